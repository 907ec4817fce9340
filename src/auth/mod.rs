//! Authentication: password hashing, access tokens, rate limits on logins and registrations,
//! and the bearer check every protected operation declares in its signature.

pub mod limited;
pub mod limits;
pub mod password;
pub mod scheme;
pub mod session_cache;
pub mod token;

pub use scheme::{AuthUser, BearerAuth};

/// Rate-limit windows; ended ones are swept by maintenance.
pub use limits::WINDOW as THROTTLE_WINDOW;
