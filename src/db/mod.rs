//! The database layer: connections, schema, and small typed query functions per table.
//! Nothing here knows about HTTP.

pub mod changes;
pub mod connect;
pub mod health;
pub mod idempotency;
pub mod liveness;
pub mod pooler;
pub mod preflight;
pub mod refusal;
pub mod schema;
pub mod sessions;
pub mod tasks;
pub mod throttle;
pub mod url;
pub mod users;
