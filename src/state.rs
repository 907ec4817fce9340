//! What every request shares: the pool (which keeps each user to their share), what is
//! known of the database's health, the token keys, the registration limits, the session
//! cache, the lists served, and housekeeping.

use std::sync::Arc;

use crate::{
    api::tasks::{list_cache::ListCache, seen::SeenTasks},
    auth::{session_cache::SessionCache, token::JwtKeys},
    config::RegistrationLimits,
    db::{health::DbHealth, recycle::Db},
    maintenance::Maintenance,
};

#[derive(Clone)]
pub struct AppState {
    /// The connection pool, with clean connections passed from request to request.
    pub db: Db,
    pub max_connections: u32,
    pub jwt: JwtKeys,
    pub health: Arc<DbHealth>,
    pub registrations: RegistrationLimits,
    /// How many tasks one user may hold.
    pub max_tasks_per_user: u32,
    /// Sessions already read, trusted while PostgreSQL can announce their changes.
    pub sessions: SessionCache,
    /// Lists already served, sent again while the user's tasks have not changed.
    pub lists: Arc<ListCache>,
    /// Tasks as last read or changed here, so a change can be written in one statement.
    pub seen: Arc<SeenTasks>,
    /// Housekeeping, started by requests rather than a timer.
    pub maintenance: Maintenance,
}
