//! `/api/{user_id}/tasks/changes` and `/api/{user_id}/tasks/events`: keeping a copy of a
//! user's tasks in sync, by asking what changed since a token, or by listening for changes.

use std::{pin::Pin, sync::Arc, time::Duration};

use bytes::Bytes;
use poem::{IntoResponse, Response, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Payload,
    registry::{MetaSchema, MetaSchemaRef, Registry},
};
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};

use super::{
    changes::{self, Changes, ChangesCursor, SyncToken},
    hub::{Batch, Found, LastRead, Refused, Slot, Wakers},
    listing::PageSize,
    types::Task,
};
use crate::{
    api::{ApiTags, conditional::PRIVATE, field::Param, serde_json_payload::JsonBytes},
    auth::{BearerAuth, limited::Limited},
    db::{
        changes::{self as log, Delta, Snapshot, Touched},
        liveness::Liveness,
        sessions,
    },
    domain::ids::{TaskId, UserId},
    error::{ApiError, AuthFailure},
    limits::MAX_PAGE_SIZE,
    problems,
    state::AppState,
};

/// How long a client refused for too many streams is asked to wait.
const STREAMS_RETRY_AFTER_SECS: u64 = 5;

#[derive(ApiResponse)]
pub enum TaskChangesResponse {
    /// What changed. Apply `changed` and `deleted` in order; keep `next` from the last page.
    #[oai(status = 200)]
    Ok(
        JsonBytes<Changes>,
        /// `<…>; rel="next"` when another page follows: follow it until there is none.
        #[oai(header = "Link")]
        Option<String>,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum TaskEventsResponse {
    /// The event stream (see the operation's description).
    #[oai(status = 200)]
    Ok(EventStreamBody),
}

problems!(TaskChangesError: 400, 401, 403, 404, 410, 422, 503);
problems!(TaskEventsError: 400, 401, 403, 404, 410, 429, 503);

/// `data` of an `event: deleted`.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct DeletedTask {
    pub id: TaskId,
}

/// `data` of an `event: end`.
#[derive(Debug, Clone, Object)]
pub struct StreamEnd {
    /// `session_revoked`, `session_expired`, or `resync` (reconnect with the last event id).
    pub reason: String,
}

pub struct SyncApi;

#[OpenApi(tag = "ApiTags::Tasks")]
impl SyncApi {
    /// What changed in the user's tasks since a token: without `since`, every task (in
    /// pages); with it, the tasks created or changed since (as they are now) and the ids
    /// deleted since. Keep the last page's `next` for the next call. A token older than
    /// the changes the server keeps (`SYNC_RETENTION`, default 30 days) is answered 410:
    /// start again without `since`.
    #[oai(
        path = "/api/:user_id/tasks/changes",
        method = "get",
        operation_id = "task_changes"
    )]
    async fn task_changes(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<UserId>,
        /// The `next` of an earlier answer.
        since: Query<Option<Param<SyncToken>>>,
        /// Page size, 1–500, default 500. A page also ends early at the byte budget
        /// (default 1 MiB); `Link: rel="next"` leads on.
        limit: Query<Option<Param<PageSize>>>,
        /// Where to continue: from the previous page's `Link: rel="next"`.
        cursor: Query<Option<Param<ChangesCursor>>>,
    ) -> Result<TaskChangesResponse, TaskChangesError> {
        auth.0.require(user_id.0)?;
        let user = user_id.0;
        let since = token(since.0, "since")?;
        let cursor = match cursor.0 {
            None => None,
            Some(Param(Ok(c))) if c.after_created().is_some() == since.is_none() => Some(c),
            Some(_) => return Err(SyncToken::refused("cursor").into()),
        };
        let limit = match limit.0 {
            None => MAX_PAGE_SIZE,
            Some(Param(Ok(l))) => l.0,
            Some(Param(Err(message))) => return Err(ApiError::validation("limit", message).into()),
        };
        state.maintenance.nudge(&state.db);
        let budget = state.list_page_bytes;
        let page = match &since {
            None => {
                let after = cursor.as_ref().and_then(ChangesCursor::after_created);
                let found = state
                    .liveness
                    .read_again_if_lost(|| log::everything(&state.db, user, after, limit))
                    .await?;
                let first = cursor
                    .as_ref()
                    .and_then(ChangesCursor::first)
                    .unwrap_or(found.snapshot);
                changes::full_page(user, &first, found.tasks, limit, budget)?
            }
            Some(since) => {
                let after = cursor.as_ref().map(ChangesCursor::after_id);
                let found = state
                    .liveness
                    .read_again_if_lost(|| log::since(&state.db, user, &since.0, after, limit))
                    .await?;
                let Delta::Found { snapshot, touched } = found else {
                    return Err(gone().into());
                };
                let first = cursor
                    .as_ref()
                    .and_then(ChangesCursor::first)
                    .unwrap_or(snapshot);
                changes::delta_page(user, since, &first, touched, limit, budget)?
            }
        };
        Ok(TaskChangesResponse::Ok(
            JsonBytes::written(page.body.into()),
            page.link,
            PRIVATE.into(),
        ))
    }

    /// Live changes as Server-Sent Events (`text/event-stream`). The stream starts at the
    /// `Last-Event-ID` header (or `since`, the same token), else at "now":
    ///
    /// - `event: ready`, `id: TOKEN` (where the stream starts), `data: {}` comes first;
    /// - `event: task.changed`, `data:` the task as it is now; `event: task.deleted`,
    ///   `data: {"id": N}`.
    ///   Changes read together form a batch, and only the last event of a batch carries
    ///   `id: TOKEN`: a client that reconnects with its last id gets any batch it saw only
    ///   part of again, never less;
    /// - `: keep-alive` comments every `SSE_HEARTBEAT` (default 15 s) on a quiet stream;
    /// - `event: end`, `data: {"reason": "session_revoked" | "session_expired" | "resync"}`
    ///   before the server ends the stream: reconnect with the last id (log in again on 401).
    ///
    /// At most `SSE_MAX_PER_USER` streams per user (429) and `SSE_MAX_STREAMS` per instance
    /// (503), both with `Retry-After`. A token older than the changes kept is answered 410.
    #[oai(
        path = "/api/:user_id/tasks/events",
        method = "get",
        operation_id = "task_events"
    )]
    async fn task_events(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<UserId>,
        /// The id of the last event received, to resume after it.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<Param<SyncToken>>>,
        /// The same as `Last-Event-ID`, for clients that cannot set headers.
        since: Query<Option<Param<SyncToken>>>,
    ) -> Result<TaskEventsResponse, TaskEventsError> {
        auth.0.require(user_id.0)?;
        let user = user_id.0;
        let start = match last_event_id.0 {
            Some(id) => token(Some(id), "Last-Event-ID")?,
            None => token(since.0, "since")?,
        };
        let jti = auth.0.jti.clone();
        // The stream holds no place in the user's share of the database between reads.
        drop(auth);
        let (slot, wakers) = state.hub.open(user, &jti).await.map_err(refused)?;
        let session = sessions::state(&state.db, &state.liveness, &jti).await?;
        let expires_at = match session {
            Some(s) if !s.revoked && s.live && s.user_id == user => s.expires_at,
            _ => return Err(ApiError::Unauthorized(AuthFailure::Revoked).into()),
        };
        let reader = Reader {
            db: state.db.clone(),
            liveness: state.liveness.clone(),
            user,
        };
        let (position, first) = match start {
            None => {
                let now = state
                    .liveness
                    .read_again_if_lost(|| log::now(&state.db))
                    .await?;
                (SyncToken(now), None)
            }
            Some(since) => match reader.batch(&since, None).await? {
                None => return Err(gone().into()),
                Some(batch) => (since, Some(batch)),
            },
        };
        let mut ready = event("ready", "{}", Some(&position));
        let mut stream = Stream::new(
            reader,
            slot,
            wakers,
            position,
            state.sse_heartbeat,
            expires_at,
        );
        if let Some(batch) = first {
            ready.extend_from_slice(&stream.take(batch));
        }
        Ok(TaskEventsResponse::Ok(EventStreamBody(stream.body(ready))))
    }
}

fn token(param: Option<Param<SyncToken>>, name: &str) -> Result<Option<SyncToken>, ApiError> {
    match param {
        None => Ok(None),
        Some(Param(Ok(t))) => Ok(Some(t)),
        Some(Param(Err(_))) => Err(SyncToken::refused(name)),
    }
}

fn gone() -> ApiError {
    ApiError::Gone(
        "This token is older than the changes the server keeps: read every task again \
         without `since` (or `Last-Event-ID`) and continue from its `next`."
            .into(),
    )
}

fn refused(why: Refused) -> ApiError {
    match why {
        Refused::UserFull(quota) => ApiError::TooManyRequests(Limited {
            policy: "event-streams",
            quota: u32::try_from(quota).unwrap_or(u32::MAX),
            window_secs: STREAMS_RETRY_AFTER_SECS,
            retry_after_secs: STREAMS_RETRY_AFTER_SECS,
            detail: "This account has as many event streams open as allowed: close one, \
                     or retry later.",
        }),
        Refused::InstanceFull => ApiError::Busy(
            "The server has as many event streams open as it can hold: retry shortly.",
        ),
        Refused::Deaf => ApiError::Busy(
            "Live changes cannot be heard right now: retry shortly, or ask for changes \
             with `GET /api/{user_id}/tasks/changes`.",
        ),
    }
}

/// Reads a user's changes for a stream.
struct Reader {
    db: crate::db::pool::Db,
    liveness: Arc<Liveness>,
    user: UserId,
}

impl Reader {
    /// One page of the changes since `since` (after a task, continuing one), or `None`
    /// when they are no longer all kept.
    async fn batch(
        &self,
        since: &SyncToken,
        paging: Option<(&Snapshot, TaskId)>,
    ) -> Result<Found, sqlx::Error> {
        let after = paging.map(|p| p.1);
        let found = self
            .liveness
            .read_again_if_lost(|| log::since(&self.db, self.user, &since.0, after, MAX_PAGE_SIZE))
            .await?;
        let Delta::Found {
            snapshot,
            mut touched,
        } = found
        else {
            return Ok(None);
        };
        let more = (touched.len() > MAX_PAGE_SIZE as usize).then(|| {
            touched.truncate(MAX_PAGE_SIZE as usize);
            touched.last().map(Touched::id)
        });
        Ok(Some(Batch {
            touched,
            first: paging.map_or(snapshot, |p| p.0.clone()),
            more: more.flatten(),
        }))
    }
}

/// One SSE event; `id` only where given.
fn event(kind: &str, data: &str, id: Option<&SyncToken>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.as_bytes());
    out.push(b'\n');
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.encode().as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// Why a stream ends.
#[derive(Debug, Clone, Copy)]
enum End {
    Revoked,
    Expired,
    Resync,
}

impl End {
    fn event(self) -> Vec<u8> {
        let reason = match self {
            Self::Revoked => "session_revoked",
            Self::Expired => "session_expired",
            Self::Resync => "resync",
        };
        event("end", &format!("{{\"reason\":\"{reason}\"}}"), None)
    }
}

/// One open stream: its position, where a paged read continues, and what wakes it. Small
/// on purpose: an idle stream holds this, its timers and its place.
struct Stream {
    reader: Reader,
    slot: Slot,
    wakers: Wakers,
    position: SyncToken,
    /// A read that did not fit one page continues after this task, towards this position.
    paging: Option<(Snapshot, TaskId)>,
    /// Something may have changed since the last read.
    dirty: bool,
    check_session: bool,
    heartbeat: Interval,
    expires: Pin<Box<Sleep>>,
    ended: bool,
}

impl Stream {
    fn new(
        reader: Reader,
        slot: Slot,
        wakers: Wakers,
        position: SyncToken,
        heartbeat: Duration,
        expires_at: chrono::NaiveDateTime,
    ) -> Self {
        let mut heartbeat = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let left = (expires_at - chrono::Utc::now().naive_utc())
            .to_std()
            .unwrap_or(Duration::ZERO);
        Self {
            reader,
            slot,
            wakers,
            position,
            paging: None,
            dirty: false,
            check_session: false,
            heartbeat,
            expires: Box::pin(tokio::time::sleep(left)),
            ended: false,
        }
    }

    /// The events of a batch; the last carries the position after it when the batch ends a
    /// read (a read of several pages sends its position once, after its last page).
    fn take(&mut self, batch: Batch) -> Vec<u8> {
        let after = SyncToken(batch.first.clone());
        let mut out = Vec::new();
        let count = batch.touched.len();
        for (i, touched) in batch.touched.into_iter().enumerate() {
            let id = (batch.more.is_none() && i + 1 == count).then_some(&after);
            let written = match touched {
                Touched::Changed(task) => serde_json::to_string(&Task::from(task))
                    .map(|data| event("task.changed", &data, id)),
                Touched::Deleted(id_) => serde_json::to_string(&DeletedTask { id: id_ })
                    .map(|data| event("task.deleted", &data, id)),
            };
            match written {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => {
                    tracing::error!(error = %e, "cannot write a task event");
                    self.ended = true;
                    out.extend_from_slice(&End::Resync.event());
                    return out;
                }
            }
        }
        match batch.more {
            Some(last) => self.paging = Some((batch.first, last)),
            // Nothing new: the position stays, so that streams at one position stay together
            // and go on sharing their reads.
            None if count == 0 => self.paging = None,
            None => {
                self.paging = None;
                self.position = after;
            }
        }
        out
    }

    /// The next piece of the stream: events, a heartbeat, or the end.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if self.ended {
                return None;
            }
            if self.check_session {
                self.check_session = false;
                if let Some(end) = self.session_ends().await {
                    return Some(self.end(end));
                }
            }
            if self.dirty || self.paging.is_some() {
                self.dirty = false;
                match self.read().await {
                    Ok(Some(batch)) => {
                        let out = self.take(batch);
                        if !out.is_empty() {
                            return Some(out.into());
                        }
                    }
                    Ok(None) => return Some(self.end(End::Resync)),
                    Err(e) => {
                        tracing::info!(error = %e, "an event stream cannot read changes; it ends");
                        return Some(self.end(End::Resync));
                    }
                }
                continue;
            }
            tokio::select! {
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(KEEP_ALIVE)),
                () = &mut self.expires => return Some(self.end(End::Expired)),
                () = closed(&mut self.wakers.closing) => {
                    return Some(self.end(End::Resync));
                }
                _ = self.wakers.lapsed.changed() => return Some(self.end(End::Resync)),
                woke = self.wakers.tasks.changed() => {
                    if woke.is_err() { return Some(self.end(End::Resync)); }
                    self.dirty = true;
                }
                woke = self.wakers.all.changed() => {
                    if woke.is_err() { return Some(self.end(End::Resync)); }
                    self.dirty = true;
                    self.check_session = true;
                }
                woke = self.wakers.session.changed() => {
                    if woke.is_err() { return Some(self.end(End::Resync)); }
                    self.check_session = true;
                }
            }
        }
    }

    /// What changed since the stream's position: the answer of a read another stream of
    /// the user at the same position began after this one was woken, or a read of its own.
    async fn read(&self) -> Result<Found, sqlx::Error> {
        let paging = self.paging.as_ref().map(|(s, id)| (s, *id));
        let key = match paging {
            None => self.position.0.to_string(),
            Some((first, after)) => format!("{}/{first}/{after}", self.position.0),
        };
        let woken = (*self.wakers.tasks.borrow(), *self.wakers.all.borrow());
        let shared = self.wakers.last_read.clone();
        let mut last = shared.lock().await;
        if let Some(read) = &*last
            && read.key == key
            && read.tasks >= woken.0
            && read.all >= woken.1
        {
            return Ok(read.found.clone());
        }
        let (tasks, all) = (*self.wakers.tasks.borrow(), *self.wakers.all.borrow());
        let found = self.reader.batch(&self.position, paging).await?;
        *last = Some(LastRead {
            key,
            tasks,
            all,
            found: found.clone(),
        });
        Ok(found)
    }

    fn end(&mut self, why: End) -> Bytes {
        self.ended = true;
        why.event().into()
    }

    async fn session_ends(&self) -> Option<End> {
        let jti = self.slot.jti();
        let read = sessions::state(&self.reader.db, &self.reader.liveness, jti).await;
        match read {
            Ok(Some(s)) if !s.revoked && s.live => None,
            Ok(Some(s)) if !s.revoked => Some(End::Expired),
            Ok(_) => Some(End::Revoked),
            Err(e) => {
                tracing::info!(error = %e, "an event stream cannot check its session; it ends");
                Some(End::Resync)
            }
        }
    }

    fn body(self, first: Vec<u8>) -> poem::Body {
        let first =
            futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) });
        let rest = futures_util::stream::unfold(self, |mut stream| async move {
            stream.next().await.map(|bytes| (Ok(bytes), stream))
        });
        poem::Body::from_bytes_stream(futures_util::StreamExt::chain(first, rest))
    }
}

/// Until the server shuts down.
async fn closed(closing: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}

/// A `text/event-stream` body.
pub struct EventStreamBody(poem::Body);

impl Payload for EventStreamBody {
    const CONTENT_TYPE: &'static str = "text/event-stream";

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "Server-Sent Events: `ready`, `changed` (data: a Task), `deleted` (data: \
                 {\"id\": N}), `end` (data: {\"reason\": …}), and `: keep-alive` comments.",
            ),
            ..MetaSchema::new_with_format("string", "event-stream")
        }))
    }

    fn register(registry: &mut Registry) {
        <Task as poem_openapi::types::Type>::register(registry);
        <DeletedTask as poem_openapi::types::Type>::register(registry);
        <StreamEnd as poem_openapi::types::Type>::register(registry);
    }
}

impl IntoResponse for EventStreamBody {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .header(poem::http::header::CACHE_CONTROL, "no-cache")
            // Proxies that buffer responses (nginx) would hold the events back.
            .header("X-Accel-Buffering", "no")
            .body(self.0)
    }
}
