//! `/api/{user_id}/tasks`: the six task operations. Each authorises (the token's user must
//! be the URL's), parses, calls `db::tasks`, and maps the outcome to a response.

pub mod listing;
pub mod types;

use poem::{Request, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    types::ToJSON,
};
use sha2::{Digest, Sha256};

use self::{
    listing::{ListParams, SortField, SortOrder},
    types::{CompleteTask, CreateTask, Task, UpdateTask},
};
use super::{
    ApiTags,
    body::{JsonBody, OptionalJsonBody, parse_value},
    conditional::{if_match_allows, if_none_match_hits, task_etag},
    serde_json_payload::SerdeJson,
    text::{CursorText, DueDateText, EtagListText, PreferText, SearchText, TagFilter},
};
use crate::{
    auth::BearerAuth,
    db::{
        connect::{read_again_if_lost, write_again_if_terminated},
        idempotency::{self, Claim},
        tasks::{self, Modified, TaskRow},
    },
    domain::{
        ids::{TaskId, UserId},
        task::Priority,
    },
    error::ApiError,
    problems,
    state::AppState,
};

const IDEMPOTENCY_KEY_MAX: usize = 255;

#[derive(ApiResponse)]
pub enum ListTasksResponse {
    /// The tasks, as a JSON array.
    #[oai(status = 200)]
    Ok(
        SerdeJson<Vec<Task>>,
        /// How many tasks match the filters, across all pages: only when the request said
        /// `Prefer: count=exact`.
        #[oai(header = "X-Total-Count")]
        Option<i64>,
        /// `count=exact` when the total was counted.
        #[oai(header = "Preference-Applied")]
        Option<String>,
        #[oai(header = "ETag")] String,
        /// `<…>; rel="next"` when another page follows.
        #[oai(header = "Link")]
        Option<String>,
    ),
    /// The client's copy (`If-None-Match`) is current.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum CreateTaskResponse {
    /// Created (or, for a retried `Idempotency-Key`, the first response again).
    #[oai(status = 201)]
    Created(
        SerdeJson<Task>,
        /// The new task's URL.
        #[oai(header = "Location")]
        String,
        #[oai(header = "ETag")] String,
    ),
}

#[derive(ApiResponse)]
pub enum TaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(SerdeJson<Task>, #[oai(header = "ETag")] String),
    /// The client's copy (`If-None-Match`) is current.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum WriteTaskResponse {
    /// The task as it is now.
    #[oai(status = 200)]
    Ok(SerdeJson<Task>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum DeleteTaskResponse {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

problems!(ListTasksError: 400, 401, 403, 404, 422, 503);
problems!(CreateTaskError: 400, 401, 403, 404, 413, 422, 503);
problems!(GetTaskError: 400, 401, 403, 404, 422, 503);
problems!(UpdateTaskError: 400, 401, 403, 404, 412, 413, 422, 503);
problems!(DeleteTaskError: 400, 401, 403, 404, 412, 422, 503);

fn not_found() -> ApiError {
    ApiError::NotFound("There is no such task.".into())
}

fn ok(task: TaskRow) -> WriteTaskResponse {
    let etag = task_etag(task.id.0, task.version);
    WriteTaskResponse::Ok(SerdeJson(task.into()), etag)
}

/// Maps the outcome of a change to a response.
fn written(outcome: Modified<ApiError>) -> Result<WriteTaskResponse, UpdateTaskError> {
    match outcome {
        Modified::NotFound => Err(not_found().into()),
        Modified::Stale => Err(ApiError::PreconditionFailed.into()),
        Modified::Rejected(e) => Err(e.into()),
        Modified::Done {
            task,
            next_occurrence,
        } => {
            if let Some(next) = next_occurrence {
                tracing::info!(task_id = %task.id, next_id = %next.id, "next occurrence created");
            }
            Ok(ok(task))
        }
    }
}

pub struct TasksApi;

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List the user's tasks, newest first unless sorted otherwise.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/:user_id/tasks",
        method = "get",
        operation_id = "list_tasks"
    )]
    async fn list_tasks(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: BearerAuth,
        /// The user whose tasks these are: the token's user.
        user_id: Path<UserId>,
        /// Only completed (`true`) or open (`false`) tasks.
        completed: Query<Option<bool>>,
        /// Only tasks of this priority.
        priority: Query<Option<Priority>>,
        /// Only tasks with this tag (ignoring case).
        tag: Query<Option<TagFilter>>,
        /// Text to find in the title or description (ignoring case).
        q: Query<Option<SearchText>>,
        /// Only tasks due before this date or RFC 3339 date-time.
        due_before: Query<Option<DueDateText>>,
        /// Only tasks due after this date or RFC 3339 date-time.
        due_after: Query<Option<DueDateText>>,
        /// Sort field; default `created_at`.
        sort: Query<Option<SortField>>,
        /// Default `desc` for `created_at`/`updated_at`, else `asc`.
        order: Query<Option<SortOrder>>,
        /// Page size, 1–500; without it, every matching task is returned.
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
        /// Where to continue: from the previous page's `Link: rel="next"`. The cursor
        /// carries its listing's sort and order, which take precedence.
        cursor: Query<Option<CursorText>>,
        /// An ETag from an earlier list response.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<EtagListText>>,
        /// `count=exact` asks for the total in `X-Total-Count`. Counting costs as much as
        /// reading every matching task, so it is done only when asked for.
        #[oai(name = "Prefer")]
        prefer: Header<Option<PreferText>>,
    ) -> Result<ListTasksResponse, ListTasksError> {
        auth.0.require(user_id.0)?;
        let listing = ListParams {
            completed: completed.0,
            priority: priority.0,
            tag: tag.0.map(|t| t.0),
            q: q.0.map(|q| q.0),
            due_before: due_before.0.map(|d| d.0),
            due_after: due_after.0.map(|d| d.0),
            sort: sort.0,
            order: order.0,
            limit: limit.0,
            cursor: cursor.0.map(|c| c.0),
        }
        .into_query()?;
        let query = &listing.query;
        let count = listing::prefers_exact_count(prefer.0.as_ref().map(PreferText::as_str));
        let tasks::Page { mut rows, total } =
            read_again_if_lost(|| tasks::list(&state.pool, user_id.0, query, count)).await?;
        let next = match query.limit {
            Some(limit) if rows.len() > limit as usize => {
                rows.truncate(limit as usize);
                rows.last().map(|last| {
                    let cursor = listing::cursor_after(last, listing.sort, listing.order);
                    listing::next_link(req.uri().path(), req.uri().query(), &cursor)
                })
            }
            _ => None,
        };
        let etag = listing::list_etag(&rows, total, next.as_deref());
        if if_none_match_hits(if_none_match.0.as_ref().map(EtagListText::as_str), &etag) {
            return Ok(ListTasksResponse::NotModified(etag));
        }
        let tasks = rows.into_iter().map(|r| r.task.into()).collect();
        let applied = count.then(|| "count=exact".to_owned());
        Ok(ListTasksResponse::Ok(
            SerdeJson(tasks),
            total,
            applied,
            etag,
            next,
        ))
    }

    /// Create a task.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "post",
        operation_id = "create_task"
    )]
    async fn create_task(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<UserId>,
        body: JsonBody<CreateTask>,
        /// Makes retries safe: the same key with the same body within 24 hours returns the
        /// first response and creates nothing; with another body it is a 422.
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,255}$"))]
        idempotency_key: Header<Option<String>>,
    ) -> Result<CreateTaskResponse, CreateTaskError> {
        auth.0.require(user_id.0)?;
        let task = body.0.parse()?;
        let key = idempotency_key
            .0
            .as_deref()
            .map(check_idempotency_key)
            .transpose()?;
        let Some(key) = key else {
            // Nothing else to write: one statement, committed on its own.
            let row =
                write_again_if_terminated(|| tasks::insert(&state.pool, user_id.0, &task)).await?;
            let version = row.version;
            tracing::info!(task_id = %row.id, "task created");
            return Ok(created(user_id.0, row.into(), Some(version)));
        };
        let mut tx = state.pool.begin().await.map_err(ApiError::from)?;
        let hash = hex::encode(Sha256::digest(
            serde_json::to_vec(&task).map_err(ApiError::internal)?,
        ));
        if let Claim::Used {
            request_hash,
            response_body,
            ..
        } = idempotency::claim(&mut tx, user_id.0, key, &hash).await?
        {
            if request_hash != hash {
                return Err(ApiError::validation(
                    "Idempotency-Key",
                    "was already used with a different request body",
                )
                .into());
            }
            let stored = response_body
                .ok_or_else(|| ApiError::internal("idempotency row without a response"))?;
            let value = serde_json::from_str(&stored).map_err(ApiError::internal)?;
            let task = parse_value::<Task>(value)?;
            return Ok(created(user_id.0, task, None));
        }
        let row = tasks::insert(&mut *tx, user_id.0, &task).await?;
        let version = row.version;
        let task: Task = row.into();
        let body = task.to_json().unwrap_or_default().to_string();
        idempotency::complete(&mut tx, user_id.0, key, task.id, &body).await?;
        tx.commit().await.map_err(ApiError::from)?;
        tracing::info!(task_id = %task.id, "task created");
        Ok(created(user_id.0, task, Some(version)))
    }

    /// Get one task.
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "get",
        operation_id = "get_task"
    )]
    async fn get_task(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<UserId>,
        id: Path<TaskId>,
        /// An ETag from an earlier response for this task.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<EtagListText>>,
    ) -> Result<TaskResponse, GetTaskError> {
        auth.0.require(user_id.0)?;
        let task = read_again_if_lost(|| tasks::find(&state.pool, user_id.0, id.0))
            .await?
            .ok_or_else(not_found)?;
        let etag = task_etag(task.id.0, task.version);
        if if_none_match_hits(if_none_match.0.as_ref().map(EtagListText::as_str), &etag) {
            return Ok(TaskResponse::NotModified(etag));
        }
        Ok(TaskResponse::Ok(SerdeJson(task.into()), etag))
    }

    /// Update a task: fields present replace, `null` clears, absent fields stay.
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "put",
        operation_id = "update_task"
    )]
    async fn update_task(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<UserId>,
        id: Path<TaskId>,
        body: JsonBody<UpdateTask>,
        /// The task's ETag as last read: a stale one is refused with 412.
        #[oai(name = "If-Match")]
        if_match: Header<Option<EtagListText>>,
    ) -> Result<WriteTaskResponse, UpdateTaskError> {
        auth.0.require(user_id.0)?;
        let changes = body.0.parse()?;
        let outcome = tasks::modify(
            &state.pool,
            user_id.0,
            id.0,
            |t| {
                if_match_allows(
                    if_match.0.as_ref().map(EtagListText::as_str),
                    &task_etag(t.id.0, t.version),
                )
            },
            |t| Ok::<_, ApiError>(changes.apply(t.state())),
        )
        .await?;
        written(outcome)
    }

    /// Delete a task.
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "delete",
        operation_id = "delete_task"
    )]
    async fn delete_task(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<UserId>,
        id: Path<TaskId>,
        /// The task's ETag as last read: a stale one is refused with 412.
        #[oai(name = "If-Match")]
        if_match: Header<Option<EtagListText>>,
    ) -> Result<DeleteTaskResponse, DeleteTaskError> {
        auth.0.require(user_id.0)?;
        if if_match.0.is_none() {
            // Unconditional: one statement.
            let deleted =
                write_again_if_terminated(|| tasks::delete(&state.pool, user_id.0, id.0)).await?;
            return if deleted {
                Ok(DeleteTaskResponse::Deleted)
            } else {
                Err(not_found().into())
            };
        }
        let outcome = tasks::delete_if(&state.pool, user_id.0, id.0, |t| {
            if_match_allows(
                if_match.0.as_ref().map(EtagListText::as_str),
                &task_etag(t.id.0, t.version),
            )
        })
        .await?;
        match outcome {
            Modified::NotFound => Err(not_found().into()),
            Modified::Stale => Err(ApiError::PreconditionFailed.into()),
            Modified::Rejected(never) => match never {},
            Modified::Done { .. } => Ok(DeleteTaskResponse::Deleted),
        }
    }

    /// Complete a task: without a body it toggles `completed`; `{"completed": …}` sets it.
    /// Completing a recurring task creates its next occurrence, once.
    #[oai(
        path = "/api/:user_id/tasks/:id/complete",
        method = "patch",
        operation_id = "complete_task"
    )]
    async fn complete_task(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<UserId>,
        id: Path<TaskId>,
        body: OptionalJsonBody<CompleteTask>,
        /// The task's ETag as last read: a stale one is refused with 412.
        #[oai(name = "If-Match")]
        if_match: Header<Option<EtagListText>>,
    ) -> Result<WriteTaskResponse, UpdateTaskError> {
        auth.0.require(user_id.0)?;
        let wanted = body.0.map(|b| b.completed);
        if if_match.0.is_none()
            && let Some(task) = write_again_if_terminated(|| {
                tasks::complete_simple(&state.pool, user_id.0, id.0, wanted)
            })
            .await?
        {
            return Ok(ok(task));
        }
        let outcome = tasks::modify(
            &state.pool,
            user_id.0,
            id.0,
            |t| {
                if_match_allows(
                    if_match.0.as_ref().map(EtagListText::as_str),
                    &task_etag(t.id.0, t.version),
                )
            },
            |t| {
                let mut next = t.state();
                next.completed = wanted.unwrap_or(!t.completed);
                Ok::<_, ApiError>(next)
            },
        )
        .await?;
        written(outcome)
    }
}

fn created(user_id: UserId, task: Task, version: Option<i32>) -> CreateTaskResponse {
    let location = format!("/api/{user_id}/tasks/{}", task.id);
    let etag = task_etag(task.id.0, version.unwrap_or(1));
    CreateTaskResponse::Created(SerdeJson(task), location, etag)
}

/// 1–255 visible ASCII characters.
fn check_idempotency_key(key: &str) -> Result<&str, ApiError> {
    let ok = !key.is_empty()
        && key.len() <= IDEMPOTENCY_KEY_MAX
        && key.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(key).ok_or_else(|| {
        ApiError::validation(
            "Idempotency-Key",
            "must be 1–255 visible ASCII characters, e.g. a UUID",
        )
    })
}
