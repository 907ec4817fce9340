//! Housekeeping that keeps tables from growing without bound: expired sessions and ended
//! login-throttle windows, idempotency keys past their retention, and clients an account has
//! not logged in from for 30 days. Every instance runs it; the deletes are idempotent.

use std::time::Duration;

use sqlx::PgPool;

use crate::{auth::THROTTLE_WINDOW, db};

pub const INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Rows deleted by one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub throttle_windows: u64,
    pub idempotency_keys: u64,
    pub known_clients: u64,
}

pub async fn run_once(pool: &PgPool) -> Result<Swept, sqlx::Error> {
    Ok(Swept {
        sessions: db::sessions::delete_expired(pool).await?,
        throttle_windows: db::throttle::delete_expired(pool, THROTTLE_WINDOW).await?,
        idempotency_keys: db::idempotency::delete_expired(pool).await?,
        known_clients: db::throttle::delete_stale_known_clients(
            pool,
            crate::auth::limits::KNOWN_CLIENT_FOR,
        )
        .await?,
    })
}

/// Runs [`run_once`] now and then every [`INTERVAL`], until the task is aborted.
pub async fn run_periodically(pool: PgPool) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match run_once(&pool).await {
            Ok(swept) => tracing::debug!(?swept, "maintenance done"),
            Err(e) => tracing::warn!(error = %e, "maintenance failed; retrying next time"),
        }
    }
}
