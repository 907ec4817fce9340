//! Typed ids, so a user id can never be passed where a task id is expected.

use poem_openapi::NewType;
use serde::{Deserialize, Serialize};

/// A user's id.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    sqlx::Type,
    NewType,
)]
#[sqlx(transparent)]
#[oai(from_multipart = false, to_header = false)]
pub struct UserId(pub i32);

/// A task's id.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    sqlx::Type,
    NewType,
)]
#[sqlx(transparent)]
#[oai(from_multipart = false, to_header = false)]
pub struct TaskId(pub i32);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
