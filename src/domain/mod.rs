//! Validated types and business rules, free of HTTP and SQL.

pub mod ids;
pub mod user;
