//! Black-box tests: the real server, on 127.0.0.1:0, against a fresh PostgreSQL database
//! per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adoption;
mod auth;
mod cli;
mod compat;
mod completed_at;
mod conflicts;
mod connections;
mod cors;
mod counting;
mod due_dates;
mod events;
mod fairness;
mod fake_pg;
mod hardening;
mod health;
mod helpers;
mod housekeeping;
mod legacy;
mod limits;
mod list_cache;
mod metrics;
mod page_bytes;
mod panics;
mod readiness;
mod recurrence;
mod refusals;
mod revocation;
mod schema;
mod seen_tasks;
mod spec;
mod stalled;
mod strict_bodies;
#[path = "../support/mod.rs"]
mod support;
mod sync;
mod task_rules;
mod tasks;
mod tasks_list;
