//! Limits on what one request may ask of the server.

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The most bytes of tasks one list page holds unless `LIST_PAGE_BYTES` says otherwise: a
/// page ends early, with its `Link` to the rest, where the next task would pass it.
pub const DEFAULT_PAGE_BYTES: u32 = 1024 * 1024;

/// Largest page of tasks, and the page size when a request names none.
pub const MAX_PAGE_SIZE: u32 = 500;

/// How many tasks one user may hold unless `MAX_TASKS_PER_USER` says otherwise.
pub const DEFAULT_MAX_TASKS_PER_USER: u32 = 10_000;
