//! Listing tasks: the query parameters and their rules, into a [`ListQuery`]; opaque
//! cursors, the `Link` header, and the list's ETag.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem_openapi::Enum;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{list_cache::KeptList, types::Task};
use crate::{
    api::field::Param,
    db::tasks::{After, Filters, ListQuery, ListedTask, Page, SortKey},
    domain::{
        due_date::DueDate,
        field::{Facts, FieldRule, Refusals},
        ids::{TaskId, UserId},
        task::{Priority, TAG_MAX, TEXT_PATTERN},
    },
    error::ApiError,
    limits::MAX_PAGE_SIZE,
};

/// What to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    DueDate,
    Priority,
    Title,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, Serialize, Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

impl From<SortField> for SortKey {
    fn from(field: SortField) -> Self {
        match field {
            SortField::CreatedAt => Self::CreatedAt,
            SortField::UpdatedAt => Self::UpdatedAt,
            SortField::DueDate => Self::DueDate,
            SortField::Priority => Self::Priority,
            SortField::Title => Self::Title,
        }
    }
}

impl FieldRule for SortField {
    const FACTS: Facts = Facts::text(
        "one of created_at, updated_at, due_date, priority or title, like due_date",
        "due_date",
    )
    .choices(&["created_at", "updated_at", "due_date", "priority", "title"]);

    fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::from(raw)).ok()
    }
}

impl FieldRule for SortOrder {
    const FACTS: Facts = Facts::text("asc or desc, like asc", "asc").choices(&["asc", "desc"]);

    fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::from(raw)).ok()
    }
}

/// How many tasks a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(pub u32);

impl FieldRule for PageSize {
    const FACTS: Facts =
        Facts::text("a whole number from 1 to 500, like 50", "50").integer(1, MAX_PAGE_SIZE as i64);

    fn parse(raw: &str) -> Option<Self> {
        raw.parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .map(Self)
    }
}

/// One tag to filter by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter(pub String);

impl FieldRule for TagFilter {
    const FACTS: Facts = Facts::text("one tag of at most 50 characters, like work", "work")
        .max(TAG_MAX)
        .pattern(TEXT_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        (raw.chars().count() <= TAG_MAX && !raw.contains('\0')).then(|| Self(raw.to_owned()))
    }
}

/// Text to search for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(pub String);

impl FieldRule for SearchText {
    const FACTS: Facts = Facts::text("text of at most 200 characters, like milk", "milk")
        .max(200)
        .pattern(TEXT_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        (raw.chars().count() <= 200 && !raw.contains('\0')).then(|| Self(raw.to_owned()))
    }
}

/// An opaque list cursor: base64url.
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]+$";

impl FieldRule for Cursor {
    const FACTS: Facts = Facts::text(
        "a cursor copied from the `Link: rel=\"next\"` header of the previous page",
        "eyJzIjoiY3JlYXRlZF9hdCJ9",
    )
    .min(1)
    .max(500)
    .pattern(CURSOR_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        (raw.len() <= 500).then(|| decode_cursor(raw)).flatten()
    }
}

/// The list query parameters, as received.
pub struct ListParams {
    pub completed: Option<Param<bool>>,
    pub priority: Option<Param<Priority>>,
    pub tag: Option<Param<TagFilter>>,
    pub q: Option<Param<SearchText>>,
    pub due_before: Option<Param<DueDate>>,
    pub due_after: Option<Param<DueDate>>,
    pub sort: Option<Param<SortField>>,
    pub order: Option<Param<SortOrder>>,
    pub limit: Option<Param<PageSize>>,
    pub cursor: Option<Param<Cursor>>,
}

/// What a cursor carries: the sort it belongs to and where the last page ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    s: SortField,
    o: SortOrder,
    k: String,
    i: i32,
}

/// The listing a request asks for, as parsed: the query for the statement, and in wire
/// terms what the next page's cursor and link repeat.
pub struct Listing {
    pub query: ListQuery,
    pub sort: SortField,
    pub order: SortOrder,
    /// The due-date filters as given (the query holds the instants they stand for).
    pub due_before: Option<DueDate>,
    pub due_after: Option<DueDate>,
}

/// A parameter's value, or its refusal noted.
fn param<R>(refusals: &mut Refusals, name: &'static str, param: Option<Param<R>>) -> Option<R> {
    param.and_then(|p| refusals.note(name, p.0))
}

impl ListParams {
    /// Newest first by default, one page of at most 500. A cursor continues the listing it
    /// came from: its sort and order take precedence over the parameters. Every parameter
    /// is checked before any statement runs.
    pub fn into_query(self) -> Result<Listing, ApiError> {
        let mut r = Refusals::default();
        let cursor = param(&mut r, "cursor", self.cursor);
        let completed = param(&mut r, "completed", self.completed);
        let priority = param(&mut r, "priority", self.priority);
        let tag = param(&mut r, "tag", self.tag);
        let q = param(&mut r, "q", self.q);
        let due_before = param(&mut r, "due_before", self.due_before);
        let due_after = param(&mut r, "due_after", self.due_after);
        let sort = param(&mut r, "sort", self.sort);
        let order = param(&mut r, "order", self.order);
        let limit = param(&mut r, "limit", self.limit);
        r.finish(())?;
        let sort = cursor
            .as_ref()
            .map(|c| c.s)
            .or(sort)
            .unwrap_or(SortField::CreatedAt);
        let order = cursor
            .as_ref()
            .map(|c| c.o)
            .or(order)
            .unwrap_or(match sort {
                SortField::CreatedAt | SortField::UpdatedAt => SortOrder::Desc,
                _ => SortOrder::Asc,
            });
        let query = ListQuery {
            filters: Filters {
                completed,
                priority,
                tag: tag.map(|t| t.0.trim().to_owned()).filter(|t| !t.is_empty()),
                text: q.map(|q| q.0).filter(|q| !q.trim().is_empty()),
                due_before: due_before.as_ref().map(|d| d.instant().naive_utc()),
                due_after: due_after.as_ref().map(|d| d.instant().naive_utc()),
            },
            sort: sort.into(),
            descending: order == SortOrder::Desc,
            limit: limit.map_or(MAX_PAGE_SIZE, |l| l.0),
            after: cursor.map(|c| After {
                key: c.k,
                id: TaskId(c.i),
            }),
        };
        Ok(Listing {
            query,
            sort,
            order,
            due_before,
            due_after,
        })
    }
}

/// A cursor this server could have issued: it decodes, and its key has its sort's type, so
/// nothing malformed reaches PostgreSQL's casts.
fn decode_cursor(raw: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let cursor: Cursor = serde_json::from_slice(&bytes).ok()?;
    let key_ok = match cursor.s {
        SortField::CreatedAt | SortField::UpdatedAt => is_timestamp(&cursor.k),
        SortField::DueDate => cursor.k == "infinity" || is_timestamp(&cursor.k),
        SortField::Priority => matches!(cursor.k.as_str(), "1" | "2" | "3"),
        SortField::Title => !cursor.k.contains('\0'),
    };
    (key_ok && cursor.i > 0).then_some(cursor)
}

/// A timestamp as PostgreSQL prints one, so it casts back: a real date and time in years 1
/// to 9999, or, as rows written around the API may hold, a later year or one BC.
pub(crate) fn is_timestamp(text: &str) -> bool {
    let (text, bc) = match text.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let Some((year, rest)) = text.split_once('-') else {
        return false;
    };
    let year_ok = year.len() >= 4 && year.len() <= 6 && year.bytes().all(|b| b.is_ascii_digit());
    if !year_ok || year == "0000" {
        return false;
    }
    // The calendar of year 2000 stands in for any year: only February 29th depends on it,
    // and PostgreSQL refuses a wrong one when it casts.
    let in_range = year.len() == 4 && !bc;
    let stand_in = if in_range { year } else { "2000" };
    chrono::NaiveDateTime::parse_from_str(&format!("{stand_in}-{rest}"), "%Y-%m-%d %H:%M:%S%.f")
        .is_ok()
}

/// The cursor for the page after `last`.
pub fn cursor_after(last: &ListedTask, sort: SortField, order: SortOrder) -> String {
    let cursor = Cursor {
        s: sort,
        o: order,
        k: last.sort_key.clone(),
        i: last.task.id.0,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

/// `</api/{user}/tasks?…&cursor=…>; rel="next"`, written from the parsed listing: its
/// filters and page size, and the cursor, which carries the sort and order. Parameters the
/// API does not know are not carried on, so the link is the same for every request a kept
/// list answers (see `list_cache.rs`).
pub fn next_link(user: UserId, listing: &Listing, cursor: &str) -> String {
    let filters = &listing.query.filters;
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    if let Some(completed) = filters.completed {
        out.append_pair("completed", if completed { "true" } else { "false" });
    }
    if let Some(priority) = filters.priority {
        out.append_pair(
            "priority",
            match priority {
                Priority::High => "High",
                Priority::Medium => "Medium",
                Priority::Low => "Low",
            },
        );
    }
    if let Some(tag) = &filters.tag {
        out.append_pair("tag", tag);
    }
    if let Some(text) = &filters.text {
        out.append_pair("q", text);
    }
    if let Some(due) = &listing.due_before {
        out.append_pair("due_before", due.as_str());
    }
    if let Some(due) = &listing.due_after {
        out.append_pair("due_after", due.as_str());
    }
    out.append_pair("limit", &listing.query.limit.to_string());
    out.append_pair("cursor", cursor);
    format!("</api/{user}/tasks?{}>; rel=\"next\"", out.finish())
}

/// A weak ETag for a page: it changes when any task on it changes (versions), when tasks
/// come or go (ids, and the total when it was counted), or when the page continues
/// differently.
pub fn list_etag(tasks: &[ListedTask], total: Option<i64>, next: Option<&str>) -> String {
    let mut hash = Sha256::new();
    for t in tasks {
        hash.update(t.task.id.0.to_le_bytes());
        hash.update(t.task.version.to_le_bytes());
    }
    if let Some(total) = total {
        hash.update(total.to_le_bytes());
    }
    hash.update(next.unwrap_or_default().as_bytes());
    format!("W/\"{}\"", hex::encode(&hash.finalize()[..12]))
}

/// Whether a `Prefer` header asks for `count=exact` (RFC 7240: comma-separated
/// preferences, each `name[=value]` with optional `;` parameters; names ignore case).
pub fn prefers_exact_count(prefer: Option<&str>) -> bool {
    prefer.is_some_and(|header| {
        header.split(',').any(|preference| {
            let head = preference.split(';').next().unwrap_or_default();
            let (name, value) = head.split_once('=').unwrap_or((head, ""));
            name.trim().eq_ignore_ascii_case("count")
                && value.trim().trim_matches('"').eq_ignore_ascii_case("exact")
        })
    })
}

/// The response to a list request, as it is sent and kept: the page's tasks as JSON (the
/// row after the last, if read, only says another page follows), its ETag, and the link
/// to the next page.
pub fn respond(
    user: UserId,
    listing: &Listing,
    page: Page,
    version: Option<i64>,
    budget: usize,
) -> Result<KeptList, ApiError> {
    let Page { mut rows, total } = page;
    let limit = listing.query.limit as usize;
    let (body, fit) = write_within(&rows[..rows.len().min(limit)], budget)?;
    let next = (rows.len() > fit)
        .then(|| {
            rows.truncate(fit);
            rows.last().map(|last| {
                let cursor = cursor_after(last, listing.sort, listing.order);
                next_link(user, listing, &cursor)
            })
        })
        .flatten();
    let etag = list_etag(&rows, total, next.as_deref());
    Ok(KeptList {
        // Never compared: a list without a version is not kept.
        version: version.unwrap_or(0),
        body: body.into(),
        etag,
        total,
        next,
    })
}

/// The JSON array of as many of `rows` as fit in `budget` bytes (at least one, however
/// large), and how many that is: a page ends early where the next task would pass the
/// budget, so a page's size is bounded whatever its tasks hold.
fn write_within(rows: &[ListedTask], budget: usize) -> Result<(Vec<u8>, usize), ApiError> {
    let mut body = Vec::with_capacity(budget.min(64 * 1024));
    body.push(b'[');
    let mut fit = 0;
    for row in rows {
        let end = body.len();
        if fit > 0 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, &Task::from(row.task.clone()))
            .map_err(ApiError::internal)?;
        // The closing bracket counts too.
        if fit > 0 && body.len() + 1 > budget {
            body.truncate(end);
            break;
        }
        fit += 1;
    }
    body.push(b']');
    Ok((body, fit))
}

#[cfg(test)]
mod tests {
    use super::{is_timestamp, prefers_exact_count};

    #[test]
    fn sort_keys_are_timestamps_as_postgresql_prints_them_past_year_9999_and_bc_too() {
        for ok in [
            "2026-12-01 09:30:00",
            "2026-12-01 09:30:00.123456",
            "10000-01-01 00:00:00",
            "0001-12-31 23:00:00 BC",
            "2024-02-29 00:00:00",
        ] {
            assert!(is_timestamp(ok), "{ok}");
        }
        for bad in [
            "0000-01-01 00:00:00",
            "2026-13-01 00:00:00",
            "10000-02-30 00:00:00",
            "2025-02-29 00:00:00",
            "2026-12-01",
            "2026-12-01 09:30:00 AD",
            "1234567-01-01 00:00:00",
            "x",
        ] {
            assert!(!is_timestamp(bad), "{bad}");
        }
    }

    #[test]
    fn count_exact_is_found_among_other_preferences() {
        for yes in [
            "count=exact",
            "Count=Exact",
            "return=minimal, count=exact",
            "count=\"exact\"",
            " count = exact ;x=1",
        ] {
            assert!(prefers_exact_count(Some(yes)), "{yes}");
        }
        for no in [
            "",
            "count=planned",
            "count",
            "return=minimal",
            "xcount=exact",
        ] {
            assert!(!prefers_exact_count(Some(no)), "{no}");
        }
        assert!(!prefers_exact_count(None));
    }
}
