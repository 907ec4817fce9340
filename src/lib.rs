//! todo-api: the backend of a multi-user Todo application, on PostgreSQL (Neon).

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod instruments;
pub mod limits;
pub mod maintenance;
pub mod secret;
pub mod server;
pub mod startup;
pub mod state;
pub mod telemetry;
