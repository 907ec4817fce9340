//! `/api/{user_id}/tasks`: the six task operations. Each authorises (the token's user must
//! be the URL's), parses, calls [`ops`] or `db::tasks`, and maps the outcome to a response.

pub mod changes;
pub mod hub;
pub mod list_cache;
pub mod listing;
pub mod ops;
pub mod seen;
pub mod sync;
pub mod types;

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
};

use self::{
    list_cache::ListKey,
    listing::{Cursor, ListParams, PageSize, SearchText, SortField, SortOrder, TagFilter},
    ops::{Created, IdempotencyKey},
    types::{CompleteTask, CreateTask, Task, UpdateTask},
};
use super::{
    ApiTags,
    body::{JsonBody, OptionalJsonBody},
    conditional::{EntityTags, PRIVATE, if_none_match_hits, task_etag},
    field::Param,
    serde_json_payload::{JsonBytes, SerdeJson},
};
use crate::{
    auth::BearerAuth,
    db::{refusal::Refusal as DbRefusal, tasks},
    domain::{
        due_date::DueDate,
        field::{FieldRule, Given, Refusal},
        ids::{TaskId, UserId},
        task::{self as task_model, Priority},
    },
    error::ApiError,
    problems,
    state::AppState,
};

#[derive(ApiResponse)]
pub enum ListTasksResponse {
    /// The tasks, as a JSON array.
    #[oai(status = 200)]
    Ok(
        JsonBytes<Vec<Task>>,
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
        /// `private, no-cache`: kept only by the user's client, revalidated by `ETag`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The client's copy (`If-None-Match`) is current.
    #[oai(status = 304)]
    NotModified(
        #[oai(header = "ETag")] String,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
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
    Ok(
        SerdeJson<Task>,
        #[oai(header = "ETag")] String,
        /// `private, no-cache`: kept only by the user's client, revalidated by `ETag`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The client's copy (`If-None-Match`) is current.
    #[oai(status = 304)]
    NotModified(
        #[oai(header = "ETag")] String,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
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
problems!(CreateTaskError: 400, 401, 403, 404, 409, 413, 415, 422, 503);
problems!(GetTaskError: 400, 401, 403, 404, 422, 503);
problems!(UpdateTaskError: 400, 401, 403, 404, 412, 413, 415, 422, 503);
problems!(DeleteTaskError: 400, 401, 403, 404, 412, 422, 503);

/// A header parameter's value, or a 422 naming it.
fn header<R: FieldRule>(
    name: &'static str,
    param: Header<Option<Param<R>>>,
) -> Result<Option<R>, ApiError> {
    param
        .0
        .map(|p| {
            p.0.map_err(|message| {
                vec![Refusal {
                    field: name,
                    message,
                }]
            })
        })
        .transpose()
        .map_err(ApiError::from)
}

fn written(task: task_model::Task) -> WriteTaskResponse {
    let etag = task_etag(task.id.0, task.version);
    WriteTaskResponse::Ok(SerdeJson(task.into()), etag)
}

pub struct TasksApi;

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List the user's tasks, newest first unless sorted otherwise, one page at a time.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/:user_id/tasks",
        method = "get",
        operation_id = "list_tasks"
    )]
    async fn list_tasks(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The user whose tasks these are: the token's user.
        user_id: Path<UserId>,
        /// Only completed (`true`) or open (`false`) tasks.
        completed: Query<Option<Param<bool>>>,
        /// Only tasks of this priority.
        priority: Query<Option<Param<Priority>>>,
        /// Only tasks with this tag (ignoring case).
        tag: Query<Option<Param<TagFilter>>>,
        /// Text to find in the title or description (ignoring case).
        q: Query<Option<Param<SearchText>>>,
        /// Only tasks due before this date or RFC 3339 date-time.
        due_before: Query<Option<Param<DueDate>>>,
        /// Only tasks due after this date or RFC 3339 date-time.
        due_after: Query<Option<Param<DueDate>>>,
        /// Sort field; default `created_at`.
        sort: Query<Option<Param<SortField>>>,
        /// Default `desc` for `created_at`/`updated_at`, else `asc`.
        order: Query<Option<Param<SortOrder>>>,
        /// Page size, 1–500, default 500. A page also ends early where the next task would
        /// take it past the server's byte budget (default 1 MiB). Whenever another page
        /// follows, `Link: rel="next"` leads on: follow it until there is none.
        limit: Query<Option<Param<PageSize>>>,
        /// Where to continue: from the previous page's `Link: rel="next"`. The cursor
        /// carries its listing's sort and order, which take precedence.
        cursor: Query<Option<Param<Cursor>>>,
        /// An ETag from an earlier list response.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<Param<EntityTags>>>,
        /// `count=exact` asks for the total in `X-Total-Count`. Counting costs as much as
        /// reading every matching task, so it is done only when asked for; other
        /// preferences are ignored.
        #[oai(name = "Prefer")]
        prefer: Header<Option<String>>,
    ) -> Result<ListTasksResponse, ListTasksError> {
        auth.0.require(user_id.0)?;
        let if_none_match = header("If-None-Match", if_none_match)?;
        let listing = ListParams {
            completed: completed.0,
            priority: priority.0,
            tag: tag.0,
            q: q.0,
            due_before: due_before.0,
            due_after: due_after.0,
            sort: sort.0,
            order: order.0,
            limit: limit.0,
            cursor: cursor.0,
        }
        .into_query()?;
        let query = &listing.query;
        let count = listing::prefers_exact_count(prefer.0.as_deref());
        let key = ListKey::new(user_id.0, count, &listing);
        let kept = key.as_ref().and_then(|key| state.lists.get(key));
        let known = kept.as_ref().map(|k| k.version);
        // Searches and counts read many rows: they run on the bulkhead's connections, with
        // its shorter statement timeout, so they cannot hold the pool that lists use.
        let expensive = query.filters.text.is_some() || count;
        let pool = if expensive {
            &state.search_db
        } else {
            &state.db
        };
        let found = state
            .liveness
            .read_again_if_lost(|| async {
                let mut conn = pool.acquire().await?;
                tasks::list(&mut conn, user_id.0, query, count, known).await
            })
            .await
            .map_err(|e| match e {
                sqlx::Error::PoolTimedOut if expensive => {
                    crate::instruments::throttled("searches");
                    ApiError::Database(DbRefusal::Searches)
                }
                e => ApiError::from(e),
            })?;
        let list = match (found, kept) {
            (tasks::Listing::Unchanged, Some(kept)) => {
                crate::instruments::list_cache(true);
                kept
            }
            (tasks::Listing::Unchanged, None) => {
                return Err(ApiError::internal("an unchanged list that was never kept").into());
            }
            (tasks::Listing::Read { page, version }, _) => {
                crate::instruments::list_cache(false);
                state.seen.saw(page.rows.iter().map(|row| &row.task));
                let list = Arc::new(listing::respond(
                    user_id.0,
                    &listing,
                    page,
                    version,
                    state.list_page_bytes,
                )?);
                if let (Some(key), Some(_)) = (key, version) {
                    state.lists.put(key, list.clone());
                }
                list
            }
        };
        if if_none_match_hits(if_none_match.as_ref().map(EntityTags::as_str), &list.etag) {
            return Ok(ListTasksResponse::NotModified(
                list.etag.clone(),
                PRIVATE.into(),
            ));
        }
        Ok(ListTasksResponse::Ok(
            JsonBytes::written(list.body.clone()),
            list.total,
            count.then(|| "count=exact".to_owned()),
            list.etag.clone(),
            list.next.clone(),
            PRIVATE.into(),
        ))
    }

    /// Create a task. An account holds at most `MAX_TASKS_PER_USER` tasks (default 10 000):
    /// beyond that, 409.
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
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<Param<IdempotencyKey>>>,
    ) -> Result<CreateTaskResponse, CreateTaskError> {
        auth.0.require(user_id.0)?;
        let fields = body.0.draft().create(chrono::Utc::now().naive_utc());
        let key = header("Idempotency-Key", idempotency_key);
        let (fields, key) = both(fields.map_err(ApiError::from), key)?;
        let (task, version) = match ops::create(
            &state.db,
            &state.liveness,
            user_id.0,
            &fields,
            key.as_ref(),
            state.max_tasks_per_user,
        )
        .await?
        {
            Created::New(task) => {
                tracing::info!(task_id = %task.id, "task created");
                let version = task.version;
                (Task::from(task), version)
            }
            Created::Replayed(task) => (task, 1),
        };
        let location = format!("/api/{}/tasks/{}", user_id.0, task.id);
        let etag = task_etag(task.id.0, version);
        Ok(CreateTaskResponse::Created(SerdeJson(task), location, etag))
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
        if_none_match: Header<Option<Param<EntityTags>>>,
    ) -> Result<TaskResponse, GetTaskError> {
        auth.0.require(user_id.0)?;
        let if_none_match = header("If-None-Match", if_none_match)?;
        let task = state
            .liveness
            .read_again_if_lost(|| tasks::find(&state.db, user_id.0, id.0))
            .await?
            .ok_or_else(ops::not_found)?;
        state.seen.saw([&task]);
        let etag = task_etag(task.id.0, task.version);
        if if_none_match_hits(if_none_match.as_ref().map(EntityTags::as_str), &etag) {
            return Ok(TaskResponse::NotModified(etag, PRIVATE.into()));
        }
        Ok(TaskResponse::Ok(
            SerdeJson(task.into()),
            etag,
            PRIVATE.into(),
        ))
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
        if_match: Header<Option<Param<EntityTags>>>,
    ) -> Result<WriteTaskResponse, UpdateTaskError> {
        auth.0.require(user_id.0)?;
        let if_match = header("If-Match", if_match)?;
        let draft = body.0.draft();
        let if_match = if_match.as_ref().map(EntityTags::as_str);
        let task = ops::edit(&state.db, &state.seen, user_id.0, id.0, &draft, if_match).await?;
        Ok(written(task))
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
        if_match: Header<Option<Param<EntityTags>>>,
    ) -> Result<DeleteTaskResponse, DeleteTaskError> {
        auth.0.require(user_id.0)?;
        let if_match = header("If-Match", if_match)?;
        let if_match = if_match.as_ref().map(EntityTags::as_str);
        ops::delete(&state.db, user_id.0, id.0, if_match).await?;
        Ok(DeleteTaskResponse::Deleted)
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
        if_match: Header<Option<Param<EntityTags>>>,
    ) -> Result<WriteTaskResponse, UpdateTaskError> {
        auth.0.require(user_id.0)?;
        let if_match = header("If-Match", if_match);
        let wanted = body
            .0
            .map(|b| b.completed.given())
            .map(|given| match given {
                Given::Flag(done) => Ok(done),
                _ => Err(vec![Refusal {
                    field: "completed",
                    message: bool::refusal(),
                }]),
            });
        let (wanted, if_match) = both(wanted.transpose().map_err(ApiError::from), if_match)?;
        let if_match = if_match.as_ref().map(EntityTags::as_str);
        let task = ops::complete(&state.db, &state.seen, user_id.0, id.0, wanted, if_match).await?;
        Ok(written(task))
    }
}

/// Both values, or every field error either holds.
fn both<A, B>(a: Result<A, ApiError>, b: Result<B, ApiError>) -> Result<(A, B), ApiError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(ApiError::Validation(mut x)), Err(ApiError::Validation(y))) => {
            x.extend(y);
            Err(ApiError::Validation(x))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}
