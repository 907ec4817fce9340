//! What the task operations do, between a parsed request and a response: read the task,
//! let the domain decide, write with the version read (retrying when another write came
//! first), and create idempotently.

use chrono::{NaiveDateTime, Utc};
use poem_openapi::types::{ParseFromJSON, ToJSON};
use sha2::{Digest, Sha256};

use super::{seen::SeenTasks, types};
use crate::{
    api::conditional::{if_match_allows, task_etag},
    db::{
        idempotency::{self, Claim},
        liveness::Liveness,
        pool::Db,
        tasks::{self, Written},
    },
    domain::{
        field::{Facts, FieldRule},
        ids::{TaskId, UserId},
        task::{Change, Fields, Task},
    },
    error::ApiError,
};

/// An `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl FieldRule for IdempotencyKey {
    const FACTS: Facts = Facts::text(
        "1 to 255 visible ASCII characters, like a UUID: 0b6f3c1e-8d0a-4e57-9a8c-3f6b1d2e7a90",
        "0b6f3c1e-8d0a-4e57-9a8c-3f6b1d2e7a90",
    )
    .min(1)
    .max(255)
    .pattern("^[!-~]{1,255}$");

    fn parse(raw: &str) -> Option<Self> {
        (!raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| Self(raw.to_owned()))
    }
}

pub fn not_found() -> ApiError {
    ApiError::NotFound("There is no such task.".into())
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// 412 unless `if_match` lets a write to `task` proceed.
fn precondition(if_match: Option<&str>, task: &Task) -> Result<(), ApiError> {
    if if_match_allows(if_match, &task_etag(task.id.0, task.version)) {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed)
    }
}

/// A task as created: new, or the first response to an earlier request with the same key.
pub enum Created {
    New(Task),
    Replayed(types::Task),
}

/// Inserts a task, unless its owner holds `quota` already (409).
async fn insert(
    db: impl sqlx::PgExecutor<'_>,
    user_id: UserId,
    fields: &Fields,
    quota: u32,
) -> Result<Task, ApiError> {
    within_quota(
        tasks::insert_within(db, user_id, fields, Some(quota)).await?,
        quota,
    )
}

fn within_quota(inserted: Option<Task>, quota: u32) -> Result<Task, ApiError> {
    inserted.ok_or_else(|| {
        ApiError::Conflict(
            format!(
                "You have {quota} tasks, as many as one account may hold: delete some \
                 before creating more."
            ),
            Vec::new(),
        )
    })
}

/// Creates a task, within the owner's quota. With an idempotency key, a retry with the
/// same body gets the first response and creates nothing; with another body it is a 422.
pub async fn create(
    db: &Db,
    liveness: &Liveness,
    user_id: UserId,
    fields: &Fields,
    key: Option<&IdempotencyKey>,
    quota: u32,
) -> Result<Created, ApiError> {
    let Some(IdempotencyKey(key)) = key else {
        // One statement, sent once more if the server had terminated its connection.
        let inserted = liveness
            .write_again_if_terminated(|| tasks::insert_within(db, user_id, fields, Some(quota)))
            .await?;
        return Ok(Created::New(within_quota(inserted, quota)?));
    };
    let hash = request_hash(fields)?;
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    if let Claim::Used {
        request_hash,
        response_body,
        ..
    } = idempotency::claim(&mut tx, user_id, key, &hash).await?
    {
        if request_hash != hash {
            return Err(ApiError::validation(
                "Idempotency-Key",
                "was already used with a different request body: use a new key for a new task",
            ));
        }
        let stored = response_body
            .ok_or_else(|| ApiError::internal("idempotency row without a response"))?;
        let value = serde_json::from_str(&stored).map_err(ApiError::internal)?;
        let first = types::Task::parse_from_json(Some(value))
            .map_err(|e| ApiError::internal(e.into_message()))?;
        return Ok(Created::Replayed(first));
    }
    let task = insert(&mut *tx, user_id, fields, quota).await?;
    let body = types::Task::from(task.clone())
        .to_json()
        .unwrap_or_default();
    idempotency::complete(&mut tx, user_id, key, task.id, &body.to_string()).await?;
    tx.commit().await?;
    Ok(Created::New(task))
}

/// What a retry must repeat to be the same create: the fields as the client chose them.
/// The server sets the rest when it creates (a task created completed is completed at the
/// time of its request), so they differ between a request and its retry.
fn request_hash(fields: &Fields) -> Result<String, ApiError> {
    let chosen = Fields {
        completed_at: None,
        recurrence_anchor: None,
        next_occurrence_created: false,
        ..fields.clone()
    };
    let json = serde_json::to_vec(&chosen).map_err(ApiError::internal)?;
    Ok(hex::encode(Sha256::digest(json)))
}

/// Lets `decide` say what changes to the task, and writes that with the version it was
/// decided on; when another write came first, the write answers with the task as it is,
/// and `decide` decides again. The first decision is made on the task as this instance last
/// saw it, if it did (see `seen.rs`): then a task that has not moved since costs one
/// statement, the write, and one that has moved two. A refusal is only given on a task the
/// database just gave: one decided on the copy is decided again on the task read. Every
/// retry on a task from the database follows a write that succeeded.
async fn change(
    db: &Db,
    seen: &SeenTasks,
    user_id: UserId,
    id: TaskId,
    if_match: Option<&str>,
    decide: impl Fn(&Task) -> Result<Change, ApiError>,
) -> Result<Task, ApiError> {
    let mut conn = db.acquire().await?;
    // The task to decide on, and where it came from.
    let mut known = seen.get(user_id, id).map(|task| (task, DecidedOn::Seen));
    loop {
        let (current, on) = match known.take() {
            Some(known) => known,
            None => {
                let task = tasks::find(&mut *conn, user_id, id)
                    .await?
                    .ok_or_else(not_found)?;
                (task, DecidedOn::Read)
            }
        };
        crate::instruments::task_change_decided(on.label());
        let fresh = on != DecidedOn::Seen;
        let decided = decide(&current).and_then(|change| {
            precondition(if_match, &current)?;
            Ok(change)
        });
        let change = match decided {
            Ok(change) => change,
            Err(_) if !fresh => continue,
            Err(refusal) => return Err(refusal),
        };
        match tasks::change(&mut conn, &current, &change).await? {
            Written::Done((task, next)) => {
                seen.saw([&task]);
                if let Some(next) = next {
                    tracing::info!(task_id = %task.id, next_id = %next.id, "next occurrence created");
                }
                return Ok(task);
            }
            Written::Moved(now) => known = Some((now, DecidedOn::Moved)),
            Written::Gone => return Err(not_found()),
        }
    }
}

/// What a change was decided on: the task as this instance last saw it, as just read, or
/// as a write found it moved.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DecidedOn {
    Seen,
    Read,
    Moved,
}

impl DecidedOn {
    fn label(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Read => "read",
            Self::Moved => "moved",
        }
    }
}

/// Edits a task as `draft` says: every field is checked (422) before the precondition (412).
pub async fn edit(
    db: &Db,
    seen: &SeenTasks,
    user_id: UserId,
    id: TaskId,
    draft: &crate::domain::task::Draft,
    if_match: Option<&str>,
) -> Result<Task, ApiError> {
    change(db, seen, user_id, id, if_match, |task| {
        task.edit(draft, now()).map_err(ApiError::from)
    })
    .await
}

/// Completes, reopens (`Some`) or toggles (`None`) a task.
pub async fn complete(
    db: &Db,
    seen: &SeenTasks,
    user_id: UserId,
    id: TaskId,
    completed: Option<bool>,
    if_match: Option<&str>,
) -> Result<Task, ApiError> {
    change(db, seen, user_id, id, if_match, |task| {
        Ok(task.complete(completed, now()))
    })
    .await
}

/// Deletes a task; with `If-Match`, only the version the client read.
pub async fn delete(
    db: &Db,
    user_id: UserId,
    id: TaskId,
    if_match: Option<&str>,
) -> Result<(), ApiError> {
    let mut conn = db.acquire().await?;
    loop {
        let version = match if_match {
            None => None,
            Some(_) => {
                let current = tasks::find(&mut *conn, user_id, id)
                    .await?
                    .ok_or_else(not_found)?;
                precondition(if_match, &current)?;
                Some(current.version)
            }
        };
        let deleted = tasks::delete(&mut *conn, user_id, id, version).await?;
        if deleted || version.is_none() {
            return if deleted { Ok(()) } else { Err(not_found()) };
        }
    }
}
