//! What changed in a user's tasks since a position: the sync token, the page cursor, and
//! the answer's JSON, written within the list's byte budget.
//!
//! A token is a PostgreSQL snapshot, base64url-encoded (see `db::changes`). A full read
//! comes in pages read by separate statements: its token is the snapshot of the FIRST page,
//! carried on by the cursor, so a change that lands between pages is after the token and the
//! next delta brings it (a task read again is harmless; one missed never is). A paged delta
//! does the same with the snapshot of its first page.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem_openapi::{Object, types::Example};
use serde::{Deserialize, Serialize};

use super::{listing::CURSOR_PATTERN, types::Task};
use crate::{
    db::changes::{Listed, Snapshot, Touched},
    domain::{
        field::{Facts, FieldRule},
        ids::{TaskId, UserId},
    },
    error::ApiError,
};

/// The longest token or cursor accepted. A snapshot read here lists at most
/// [`MAX_LISTED`](crate::db::changes::MAX_LISTED) transactions of at most 20 digits, so
/// every token and cursor the server gives fits, and a URL with both stays within the
/// server's limit (8 KiB).
const MAX_TOKEN_LEN: usize = 3 * 1024;

/// A position in a user's changes: where a client's copy stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncToken(pub Snapshot);

impl SyncToken {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.to_string())
    }

    /// A token this server could have issued, or `None`.
    pub fn decode(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw.len() > MAX_TOKEN_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        text.parse().ok().map(Self)
    }

    /// A malformed token: 400, as the contract says (not a field rule's 422).
    pub fn refused(name: &str) -> ApiError {
        ApiError::BadRequest(format!(
            "`{name}` is not a sync token this server issued: use the `next` of an earlier \
             answer, or start again without it."
        ))
    }
}

impl FieldRule for SyncToken {
    const FACTS: Facts = Facts::text(
        "the `next` of an earlier answer from this route",
        "NzY1Ojc2NTo",
    )
    .min(1)
    .max(MAX_TOKEN_LEN)
    .pattern(CURSOR_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        Self::decode(raw)
    }
}

/// Where the next page of an answer starts: the snapshot of its first page (the answer's
/// `next`), and the last task sent (for a full read also its `created_at` as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesCursor {
    s: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<String>,
    i: i32,
}

impl ChangesCursor {
    pub fn first(&self) -> Option<Snapshot> {
        self.s.parse().ok()
    }

    pub fn after_created(&self) -> Option<(&str, TaskId)> {
        self.k.as_deref().map(|k| (k, TaskId(self.i)))
    }

    pub fn after_id(&self) -> TaskId {
        TaskId(self.i)
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
}

impl FieldRule for ChangesCursor {
    const FACTS: Facts = Facts::text(
        "a cursor copied from the `Link: rel=\"next\"` header of the previous page",
        "eyJzIjoiNzY1Ojc2NToiLCJpIjo0Mn0",
    )
    .min(1)
    .max(MAX_TOKEN_LEN)
    .pattern(CURSOR_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        if raw.len() > MAX_TOKEN_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let cursor: Self = serde_json::from_slice(&bytes).ok()?;
        let key_ok = cursor.k.as_deref().is_none_or(super::listing::is_timestamp);
        (cursor.first().is_some() && key_ok && cursor.i > 0).then_some(cursor)
    }
}

/// What changed: apply in order, upserting each `changed` task by id and removing each
/// `deleted` id, and the copy is the server's list.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Changes {
    /// Tasks created or changed since the token (all of them without one), as they are now.
    pub changed: Vec<Task>,
    /// Ids of tasks deleted since the token (or no longer the user's).
    pub deleted: Vec<TaskId>,
    /// The token for the next call: only on the last page (when no `Link: rel="next"`
    /// follows).
    pub next: Option<String>,
}

impl Example for Changes {
    fn example() -> Self {
        Self {
            changed: vec![Task::example()],
            deleted: vec![TaskId(3)],
            next: Some("NzY1Ojc2NTo".into()),
        }
    }
}

/// One page of an answer, as sent.
pub struct ChangesPage {
    pub body: Vec<u8>,
    /// `</…>; rel="next"` when another page follows.
    pub link: Option<String>,
}

/// Writes the tasks of a full read that fit in `budget` bytes (at least one), with `next`
/// when the page is the last, or a `Link` to the page after the last one that fit.
pub fn full_page(
    user: UserId,
    first: &Snapshot,
    mut tasks: Vec<Listed>,
    limit: u32,
    budget: usize,
) -> Result<ChangesPage, ApiError> {
    let more = tasks.len() > limit as usize;
    tasks.truncate(limit as usize);
    let mut body = Writer::new(budget);
    let mut fit = 0;
    for listed in &tasks {
        if !body.changed(&Task::from(listed.task.clone()))? {
            break;
        }
        fit += 1;
    }
    let link = (more || fit < tasks.len()).then(|| {
        let last = &tasks[fit.max(1) - 1];
        let cursor = ChangesCursor {
            s: first.to_string(),
            k: Some(last.created_key.clone()),
            i: last.task.id.0,
        };
        link(user, None, limit, &cursor)
    });
    let next = link.is_none().then(|| SyncToken(first.clone()));
    Ok(ChangesPage {
        body: body.finish(next.as_ref())?,
        link,
    })
}

/// Writes the touched tasks of a delta that fit in `budget` bytes (at least one), as
/// [`full_page`] does.
pub fn delta_page(
    user: UserId,
    since: &SyncToken,
    first: &Snapshot,
    mut touched: Vec<Touched>,
    limit: u32,
    budget: usize,
) -> Result<ChangesPage, ApiError> {
    let more = touched.len() > limit as usize;
    touched.truncate(limit as usize);
    let mut body = Writer::new(budget);
    let mut fit = 0;
    for t in &touched {
        let written = match t {
            Touched::Changed(task) => body.changed(&Task::from(task.clone()))?,
            Touched::Deleted(id) => body.deleted(*id),
        };
        if !written {
            break;
        }
        fit += 1;
    }
    let link = (more || fit < touched.len()).then(|| {
        let cursor = ChangesCursor {
            s: first.to_string(),
            k: None,
            i: touched[fit.max(1) - 1].id().0,
        };
        link(user, Some(since), limit, &cursor)
    });
    let next = link.is_none().then(|| SyncToken(first.clone()));
    Ok(ChangesPage {
        body: body.finish(next.as_ref())?,
        link,
    })
}

fn link(user: UserId, since: Option<&SyncToken>, limit: u32, cursor: &ChangesCursor) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    if let Some(since) = since {
        out.append_pair("since", &since.encode());
    }
    out.append_pair("limit", &limit.to_string());
    out.append_pair("cursor", &cursor.encode());
    format!("</api/{user}/tasks/changes?{}>; rel=\"next\"", out.finish())
}

/// The answer's JSON, written task by task: `changed` and `deleted` are kept apart and
/// joined at the end, and a task that would take the whole past the budget is left out
/// (unless it is the first).
struct Writer {
    changed: Vec<u8>,
    deleted: Vec<u8>,
    budget: usize,
    count: usize,
}

/// Room kept for the braces, keys and the token.
const FRAME_BYTES: usize = 64;

impl Writer {
    fn new(budget: usize) -> Self {
        Self {
            changed: Vec::with_capacity(budget.min(64 * 1024)),
            deleted: Vec::new(),
            budget,
            count: 0,
        }
    }

    fn size(&self) -> usize {
        self.changed.len() + self.deleted.len() + FRAME_BYTES
    }

    fn changed(&mut self, task: &Task) -> Result<bool, ApiError> {
        let end = self.changed.len();
        if !self.changed.is_empty() {
            self.changed.push(b',');
        }
        serde_json::to_writer(&mut self.changed, task).map_err(ApiError::internal)?;
        if self.count > 0 && self.size() > self.budget {
            self.changed.truncate(end);
            return Ok(false);
        }
        self.count += 1;
        Ok(true)
    }

    fn deleted(&mut self, id: TaskId) -> bool {
        let end = self.deleted.len();
        if !self.deleted.is_empty() {
            self.deleted.push(b',');
        }
        self.deleted.extend_from_slice(id.0.to_string().as_bytes());
        if self.count > 0 && self.size() > self.budget {
            self.deleted.truncate(end);
            return false;
        }
        self.count += 1;
        true
    }

    fn finish(self, next: Option<&SyncToken>) -> Result<Vec<u8>, ApiError> {
        let mut body = Vec::with_capacity(self.size() + 256);
        body.extend_from_slice(b"{\"changed\":[");
        body.extend_from_slice(&self.changed);
        body.extend_from_slice(b"],\"deleted\":[");
        body.extend_from_slice(&self.deleted);
        body.push(b']');
        if let Some(next) = next {
            body.extend_from_slice(b",\"next\":");
            serde_json::to_writer(&mut body, &next.encode()).map_err(ApiError::internal)?;
        }
        body.push(b'}');
        Ok(body)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{ChangesCursor, SyncToken};
    use crate::domain::field::FieldRule;

    #[test]
    fn tokens_round_trip_and_refuse_anything_else() {
        let token = SyncToken("765:770:766,768".parse().unwrap());
        assert_eq!(SyncToken::decode(&token.encode()), Some(token));
        for bad in ["", "x", "NzY1", "bm90IGEgc25hcHNob3Q", "NzY1Ojc2NDo", "!!"] {
            assert_eq!(SyncToken::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn cursors_carry_a_snapshot_and_a_sane_key() {
        let ok = ChangesCursor {
            s: "5:9:".into(),
            k: Some("2026-12-01 09:30:00".into()),
            i: 3,
        };
        assert_eq!(ChangesCursor::parse(&ok.encode()), Some(ok));
        for bad in [
            ChangesCursor {
                s: "9:5:".into(),
                k: None,
                i: 3,
            },
            ChangesCursor {
                s: "5:9:".into(),
                k: Some("yesterday".into()),
                i: 3,
            },
            ChangesCursor {
                s: "5:9:".into(),
                k: None,
                i: 0,
            },
        ] {
            assert_eq!(ChangesCursor::parse(&bad.encode()), None, "{bad:?}");
        }
    }
}
