//! Typed ids, so a user id can never be passed where a task id is expected.

use poem_openapi::NewType;
use serde::{Deserialize, Serialize};

/// An `i32` id newtype: compared, hashed, (de)serialised, stored and documented as the
/// integer it wraps, and shown as that integer.
macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
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
        pub struct $name(pub i32);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A user's id.
    UserId
);
id!(
    /// A task's id.
    TaskId
);
