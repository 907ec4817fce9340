//! What every request shares: the pools, what is known of the database's health, each
//! user's share of the database, the token keys, the registration limits, the session
//! cache, the lists served, and housekeeping.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    api::tasks::{hub::Hub, list_cache::ListCache, seen::SeenTasks},
    auth::{session_cache::SessionCache, share::Shares, token::JwtKeys},
    config::RegistrationLimits,
    db::{health::DbHealth, liveness::Liveness},
    maintenance::Maintenance,
};

#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: PgPool,
    /// A small pool of its own for expensive reads (searches, counts), whose statements
    /// have a shorter timeout: however many run, they cannot hold `db`'s connections.
    pub search_db: PgPool,
    /// Whether the pools' connections can be trusted right now.
    pub liveness: Arc<Liveness>,
    pub max_connections: u32,
    /// How many of one user's requests may use the database at once.
    pub shares: Shares,
    pub jwt: JwtKeys,
    pub health: Arc<DbHealth>,
    pub registrations: RegistrationLimits,
    /// How many tasks one user may hold.
    pub max_tasks_per_user: u32,
    /// The most bytes of tasks one list page holds.
    pub list_page_bytes: usize,
    /// Sessions already read, trusted while PostgreSQL can announce their changes.
    pub sessions: SessionCache,
    /// Lists already served, sent again while the user's tasks have not changed.
    pub lists: Arc<ListCache>,
    /// Tasks as last read or changed here, so a change can be written in one statement.
    pub seen: Arc<SeenTasks>,
    /// Housekeeping, started by requests rather than a timer.
    pub maintenance: Maintenance,
    /// The open event streams and what wakes them.
    pub hub: Hub,
    /// How often a quiet event stream sends a comment.
    pub sse_heartbeat: std::time::Duration,
}
