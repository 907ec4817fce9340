//! Authentication: password hashing, access tokens, and the bearer check every protected
//! operation declares in its signature.

pub mod password;
pub mod scheme;
pub mod session_cache;
pub mod token;

pub use scheme::{AuthUser, BearerAuth};

use std::time::Duration;

/// Failed logins are counted in windows of this length…
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// …and a window allows this many per email address…
pub const MAX_FAILURES_PER_EMAIL: i32 = 5;
/// …and this many per client address (many accounts tried from one place).
pub const MAX_FAILURES_PER_CLIENT: i32 = 20;
