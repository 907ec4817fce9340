//! Attempt counters for rate limits, kept in PostgreSQL so every instance sees the same
//! counts.
//!
//! Each key (`client:…`, `account:…`, `register:…`) counts attempts in a fixed window that
//! starts at its first attempt; a window that has ended counts as zero. An attempt is counted
//! *before* the work it guards, in one statement, so parallel requests cannot all slip under
//! a limit: each one gets its own count back.

use std::time::Duration;

use sqlx::PgExecutor;

use super::pool::Db;

use crate::domain::ids::UserId;

/// One key's state after an attempt was counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    pub key: String,
    /// Attempts in the current window, this one included.
    pub attempts: i32,
    /// Until the window ends.
    pub resets_in: Duration,
}

/// Counts one attempt against each key and returns the counts, this attempt included.
/// How many keys starting with `prefix` have a window still open.
pub async fn active_with_prefix(
    db: impl PgExecutor<'_>,
    prefix: &str,
    window: Duration,
) -> Result<u64, sqlx::Error> {
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM login_throttle
         WHERE starts_with(key, $1)
           AND window_start + make_interval(secs => $2) > timezone('utc', now())",
    )
    .bind(prefix)
    .bind(window.as_secs_f64())
    .fetch_one(db)
    .await?;
    Ok(active.unsigned_abs())
}

pub async fn count(
    db: impl PgExecutor<'_>,
    keys: &[String],
    window: Duration,
) -> Result<Vec<Counted>, sqlx::Error> {
    // Sorted keys lock their rows in one order, so two statements cannot deadlock.
    let rows: Vec<(String, i32, f64)> = sqlx::query_as(
        "INSERT INTO login_throttle AS t (key, failures, window_start)
         SELECT key, 1, timezone('utc', now()) FROM unnest($1::text[]) AS key ORDER BY key
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN t.window_start + make_interval(secs => $2) <= timezone('utc', now())
                           THEN 1 ELSE t.failures + 1 END,
           window_start = CASE WHEN t.window_start + make_interval(secs => $2)
                                    <= timezone('utc', now())
                               THEN timezone('utc', now()) ELSE t.window_start END
         RETURNING key, failures,
           extract(epoch FROM t.window_start + make_interval(secs => $2)
                              - timezone('utc', now()))::float8",
    )
    .bind(keys)
    .bind(window.as_secs_f64())
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, attempts, secs)| Counted {
            key,
            attempts,
            resets_in: Duration::from_secs_f64(secs.max(0.0)),
        })
        .collect())
}

/// After a successful login of `user` from `client`: forgets `reset` entirely, takes back
/// one counted attempt from each of `refund`, and remembers the client as one the account
/// uses, in one transaction.
///
/// Its rows are locked first, in key order as [`count`] locks them, and only the rows locked
/// are changed: a statement that deletes and updates several rows locks them in whatever
/// order its plan visits them, which deadlocked against logins being counted on the same
/// rows. A row that appears after the lock was started by a later attempt, after this
/// login's own attempt had been forgotten, so there is nothing in it to take back.
pub async fn settle(
    db: &Db,
    reset: &str,
    refund: &[String],
    user: UserId,
    client: &str,
) -> Result<(), sqlx::Error> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    let locked: Vec<String> = sqlx::query_scalar(
        "SELECT key FROM login_throttle WHERE key = $1 OR key = ANY($2)
         ORDER BY key FOR UPDATE",
    )
    .bind(reset)
    .bind(refund)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "WITH gone AS (
           DELETE FROM login_throttle
           WHERE key = ANY($5) AND (key = $1 OR (key = ANY($2) AND failures <= 1))
         ), known AS (
           INSERT INTO login_known_client (user_id, client, last_login)
           VALUES ($3, $4, timezone('utc', now()))
           ON CONFLICT (user_id, client) DO UPDATE SET last_login = excluded.last_login
         )
         UPDATE login_throttle SET failures = failures - 1
         WHERE key = ANY($5) AND key = ANY($2) AND key <> $1 AND failures > 1",
    )
    .bind(reset)
    .bind(refund)
    .bind(user.0)
    .bind(client)
    .bind(&locked)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Whether the account with this (lower-case) email has logged in from `client` within
/// `within`.
pub async fn is_known_client(
    db: impl PgExecutor<'_>,
    email: &str,
    client: &str,
    within: Duration,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        r#"SELECT EXISTS (
             SELECT 1 FROM login_known_client k JOIN "user" u ON u.id = k.user_id
             WHERE lower(u.email) = $1 AND k.client = $2
               AND k.last_login > timezone('utc', now()) - make_interval(secs => $3)
           )"#,
    )
    .bind(email)
    .bind(client)
    .bind(within.as_secs_f64())
    .fetch_one(db)
    .await
}

/// Forgets clients unused for `within`.
pub async fn delete_stale_known_clients(
    db: impl PgExecutor<'_>,
    within: Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM login_known_client
         WHERE last_login <= timezone('utc', now()) - make_interval(secs => $1)",
    )
    .bind(within.as_secs_f64())
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets windows that have ended.
pub async fn delete_expired(db: impl PgExecutor<'_>, window: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM login_throttle
         WHERE window_start + make_interval(secs => $1) <= timezone('utc', now())",
    )
    .bind(window.as_secs_f64())
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
