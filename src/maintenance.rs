//! Housekeeping that keeps tables from growing without bound: expired sessions and ended
//! login-throttle windows, idempotency keys past their retention, clients an account has
//! not logged in from for 30 days, and task change log rows past `SYNC_RETENTION`. Every instance runs it; the deletes are idempotent.
//!
//! It rides on traffic instead of a timer: a request that finds the last pass older than
//! [`INTERVAL`] starts one in the background. An idle server sends nothing, so an idle Neon
//! compute can suspend; whatever expired meanwhile is swept by the first request after.

use std::{
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

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
    pub task_changes: u64,
}

/// One sweep of everything expired, on `pool` (the application's pool, or any).
pub async fn run_once<'p>(
    pool: impl sqlx::PgExecutor<'p> + Copy,
    sync_retention: Duration,
) -> Result<Swept, sqlx::Error> {
    Ok(Swept {
        sessions: db::sessions::delete_expired(pool).await?,
        throttle_windows: db::throttle::delete_expired(pool, THROTTLE_WINDOW).await?,
        idempotency_keys: db::idempotency::delete_expired(pool).await?,
        known_clients: db::throttle::delete_stale_known_clients(
            pool,
            crate::auth::limits::KNOWN_CLIENT_FOR,
        )
        .await?,
        task_changes: db::changes::prune(pool, sync_retention).await?,
    })
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// When the last pass started, in milliseconds since [`EPOCH`] plus one (0: never).
#[derive(Debug, Clone)]
pub struct Maintenance {
    last_started: Arc<AtomicU64>,
    /// How long the task change log keeps a row.
    sync_retention: Duration,
}

impl Maintenance {
    pub fn new(sync_retention: Duration) -> Self {
        Self {
            last_started: Arc::default(),
            sync_retention,
        }
    }

    /// Starts a pass in the background if none started within [`INTERVAL`]. Costs a request
    /// one atomic load when nothing is due.
    pub fn nudge(&self, pool: &PgPool) {
        let now = u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX) + 1;
        let last = self.last_started.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= INTERVAL.as_millis() as u64;
        if !due
            || self
                .last_started
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let pool = pool.clone();
        let retention = self.sync_retention;
        tokio::spawn(async move {
            match run_once(&pool, retention).await {
                Ok(swept) => tracing::debug!(?swept, "maintenance done"),
                Err(e) => {
                    tracing::warn!(error = %e, "maintenance failed; the next request after the interval retries")
                }
            }
        });
    }
}
