//! todo-api: the backend of a multi-user Todo application, on PostgreSQL (Neon).

pub mod api;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod startup;
pub mod telemetry;
