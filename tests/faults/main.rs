//! Proof under faults: database restarts, killed connections, TLS, a transaction-mode pooler,
//! and secrets kept out of logs. Each test brings its own throwaway PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster;
mod kill;
mod pooler;
mod restart;
mod secrets;
#[path = "../support/mod.rs"]
mod support;
mod tls;
