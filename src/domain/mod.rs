//! Validated types and business rules, free of HTTP and SQL.

pub mod due_date;
pub mod ids;
pub mod recurrence;
pub mod task;
pub mod user;
