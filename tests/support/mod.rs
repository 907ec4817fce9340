//! What the test harnesses share: fresh databases, running servers, and a typed client
//! that talks to them over HTTP.
#![allow(dead_code, unused_imports)]

mod client;
mod db;
mod server;
mod wait;

pub use client::{Api, Call, FieldError, LoginBody, Problem, Reply, Task, User, UserBody, problem};
pub use db::{TestDb, admin_url};
pub use server::{JWT_SECRET, Server, TestApp, settings, settings_from};
pub use wait::{holds_for, lock_waiters, until_live, wait_for, wait_until};
