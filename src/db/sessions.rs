//! The `session` table: one row per issued token, which decides whether it is still valid.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{
    PgExecutor,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};

use super::liveness::Liveness;
use crate::domain::ids::UserId;

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    jti: &str,
    token_fingerprint: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO session (user_id, token_jti, token, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(user_id)
    .bind(jti)
    .bind(token_fingerprint)
    .bind(expires_at.naive_utc())
    .execute(db)
    .await?;
    Ok(())
}

/// A session as the bearer check sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionState {
    pub user_id: UserId,
    pub token: String,
    pub revoked: bool,
    pub live: bool,
    /// When the session expires (UTC).
    pub expires_at: NaiveDateTime,
}

/// One round trip: the session of a token id, with its expiry judged by the database clock,
/// which every instance shares.
///
/// This is the first statement of every authenticated request, so it is where a pooled
/// connection that died while idle is met first. Being a read, it is safe to run again:
/// on a lost connection it does so once, on another connection, and the pool tests every
/// connection for a while (see [`Liveness`]), so the rest of the request gets a live one.
pub async fn state(
    pool: &super::pool::Db,
    liveness: &Liveness,
    jti: &str,
) -> Result<Option<SessionState>, sqlx::Error> {
    let read = || {
        sqlx::query_as(
            "SELECT user_id, token, revoked, expires_at > timezone('utc', now()) AS live, expires_at
             FROM session WHERE token_jti = $1",
        )
        .bind(jti)
        .fetch_optional(pool)
    };
    liveness.read_again_if_lost(read).await
}

/// Revokes a session; every instance refuses its token from the next request on.
pub async fn revoke(db: impl PgExecutor<'_>, jti: &str) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE session SET revoked = TRUE WHERE token_jti = $1 AND NOT revoked")
            .bind(jti)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes sessions that have expired; their tokens are refused by their own `exp` anyway.
pub async fn delete_expired(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM session WHERE expires_at < timezone('utc', now())")
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The channel on which PostgreSQL announces every change to a session (migration 0014),
/// with the token id as payload.
pub const CHANGES_CHANNEL: &str = "session_changed";

/// A connection of its own that listens on [`CHANGES_CHANNEL`]: one `LISTEN`, then nothing
/// but what the server sends. It never reconnects by itself: when it is lost, receiving
/// returns `Ok(None)` and the caller decides when to listen again.
pub async fn listen_for_changes(
    options: &PgConnectOptions,
    timeout: Duration,
) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(timeout)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options.clone().application_name("todo-api listener"));
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.eager_reconnect(false);
    listener.listen(CHANGES_CHANNEL).await?;
    Ok(listener)
}

/// Waits up to `within` for an empty announcement on `channel` (see [`announce_probe`]):
/// the proof that notifications reach `listener`. Other notifications are passed over.
pub async fn hear_probe(
    listener: &mut PgListener,
    channel: &str,
    within: Duration,
) -> Result<(), String> {
    let heard = tokio::time::timeout(within, async {
        loop {
            match listener.try_recv().await {
                Ok(Some(note)) if note.channel() == channel && note.payload().is_empty() => {
                    return Ok(());
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err("connection lost".to_owned()),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await;
    heard.unwrap_or_else(|_| {
        Err("announcements do not arrive (a transaction-mode pooler in between?)".to_owned())
    })
}

/// Announces an empty change: a listener that hears it knows notifications reach it (a
/// transaction-mode pooler between them would lose them).
pub async fn announce_probe(db: impl PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANGES_CHANNEL)
        .execute(db)
        .await?;
    Ok(())
}
