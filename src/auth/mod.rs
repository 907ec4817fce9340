//! Authentication: password hashing, access tokens, rate limits on logins and registrations,
//! the bearer check every protected operation declares in its signature, and each
//! authenticated user's share of the database.

pub mod limited;
pub mod limits;
pub mod password;
pub mod scheme;
pub mod session_cache;
pub mod share;
pub mod token;

pub use scheme::{AuthUser, BearerAuth};

/// Rate-limit windows; ended ones are swept by maintenance.
pub use limits::WINDOW as THROTTLE_WINDOW;
