//! Validated types and business rules: field rules, the task and its transitions.
//!
//! Nothing here reads a request or runs a statement. A few derives (`poem_openapi::Enum`,
//! `NewType`, `sqlx::Type`, `sqlx::FromRow`) say how a type looks on the wire or in a column;
//! they carry no behaviour, and writing those impls by hand in `api/` and `db/` would repeat
//! every type for nothing.

pub mod due_date;
pub mod field;
pub mod ids;
pub mod recurrence;
pub mod task;
pub mod user;
