//! Limits on what one request may ask of the server.

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest page of tasks, and the page size when a request names none.
pub const MAX_PAGE_SIZE: u32 = 500;
