//! What every request shares: the pool, what is known of the database's health, the
//! per-user share of connections, the token keys, and the registration limits.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    api::fair_share::UserSlots, auth::token::JwtKeys, config::RegistrationLimits,
    db::health::DbHealth,
};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub max_connections: u32,
    pub jwt: JwtKeys,
    pub health: Arc<DbHealth>,
    pub user_slots: Arc<UserSlots>,
    pub registrations: RegistrationLimits,
    /// How many tasks one user may hold.
    pub max_tasks_per_user: u32,
}
