//! The `idempotency_key` table: the first response to a create request, kept 24 hours per
//! (user, key), so a retried request is answered the same and creates nothing.

use super::pool::Tracked;

use crate::domain::ids::{TaskId, UserId};

/// How long a key is remembered.
pub const RETENTION: &str = "24 hours";

/// The outcome of claiming a key inside the create transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: go ahead, then [`complete`] in the same transaction.
    New,
    /// Used before, by a request with this body hash, which was answered with this body.
    Used {
        request_hash: String,
        response_body: Option<String>,
        task_id: Option<TaskId>,
    },
}

/// Claims `key` for this request. A concurrent request with the same key waits here until
/// the first one's transaction ends, then sees its stored response.
pub async fn claim(
    tx: &mut Tracked,
    user_id: UserId,
    key: &str,
    request_hash: &str,
) -> Result<Claim, sqlx::Error> {
    sqlx::query(
        "DELETE FROM idempotency_key WHERE user_id = $1 AND key = $2
           AND created_at < timezone('utc', now()) - $3::interval",
    )
    .bind(user_id)
    .bind(key)
    .bind(RETENTION)
    .execute(&mut *tx)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_key (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO NOTHING",
    )
    .bind(user_id)
    .bind(key)
    .bind(request_hash)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let (request_hash, response_body, task_id) = sqlx::query_as(
        "SELECT request_hash, response_body, task_id FROM idempotency_key
         WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Claim::Used {
        request_hash,
        response_body,
        task_id,
    })
}

/// Records the response for a claimed key.
pub async fn complete(
    tx: &mut Tracked,
    user_id: UserId,
    key: &str,
    task_id: TaskId,
    response_body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_key SET task_id = $3, response_body = $4 WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .bind(task_id)
    .bind(response_body)
    .execute(tx)
    .await?;
    Ok(())
}

/// Forgets keys past their retention.
pub async fn delete_expired(db: impl sqlx::PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM idempotency_key WHERE created_at < timezone('utc', now()) - $1::interval",
    )
    .bind(RETENTION)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
