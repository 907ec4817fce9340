//! Failed-login counters, kept in PostgreSQL so every instance sees the same counts.
//!
//! Each key (`email:…`, `client:…`) counts failures in a fixed window that starts at its
//! first failure; a window that has ended counts as zero.

use std::time::Duration;

use sqlx::PgExecutor;

/// The longest any key stays blocked: reached its limit, with `retry_after` left.
pub async fn blocked(
    db: impl PgExecutor<'_>,
    keys: &[String],
    limits: &[i32],
    window: Duration,
) -> Result<Option<Duration>, sqlx::Error> {
    let secs: Option<f64> = sqlx::query_scalar(
        "SELECT max(extract(epoch FROM t.window_start + make_interval(secs => $3)
                                   - timezone('utc', now())))::float8
         FROM login_throttle t
         JOIN unnest($1::text[], $2::int[]) AS k(key, max_failures) ON k.key = t.key
         WHERE t.failures >= k.max_failures
           AND t.window_start + make_interval(secs => $3) > timezone('utc', now())",
    )
    .bind(keys)
    .bind(limits)
    .bind(window.as_secs_f64())
    .fetch_one(db)
    .await?;
    Ok(secs.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// Counts one failure against each key.
pub async fn record_failure(
    db: impl PgExecutor<'_>,
    keys: &[String],
    window: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_throttle (key, failures, window_start)
         SELECT key, 1, timezone('utc', now()) FROM unnest($1::text[]) AS key
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN login_throttle.window_start + make_interval(secs => $2)
                                <= timezone('utc', now())
                           THEN 1 ELSE login_throttle.failures + 1 END,
           window_start = CASE WHEN login_throttle.window_start + make_interval(secs => $2)
                                    <= timezone('utc', now())
                               THEN timezone('utc', now()) ELSE login_throttle.window_start END",
    )
    .bind(keys)
    .bind(window.as_secs_f64())
    .execute(db)
    .await?;
    Ok(())
}

pub async fn reset(db: impl PgExecutor<'_>, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
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
