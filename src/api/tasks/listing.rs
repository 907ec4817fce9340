//! Listing tasks: query parameters into a [`ListQuery`], opaque cursors, the `Link` header,
//! and the list's ETag.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem_openapi::Enum;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    db::tasks::{After, Filters, ListQuery, ListedTask, SortKey},
    domain::{due_date::DueDate, ids::TaskId, task::Priority},
    error::{ApiError, FieldError},
};

/// What to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
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

/// The list query parameters, as received.
pub struct ListParams {
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    pub q: Option<String>,
    pub due_before: Option<String>,
    pub due_after: Option<String>,
    pub sort: Option<SortField>,
    pub order: Option<SortOrder>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// What a cursor carries: the sort it belongs to and where the last page ended.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    s: SortField,
    o: SortOrder,
    k: String,
    i: i32,
}

fn due_bound(
    field: &str,
    raw: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<chrono::NaiveDateTime> {
    let raw = raw?;
    match DueDate::parse(raw) {
        Ok(d) => Some(d.instant().naive_utc()),
        Err(e) => {
            errors.push(FieldError::new(field, e.to_string()));
            None
        }
    }
}

/// The listing a request asks for, in wire terms (the cursor for its next page needs them).
pub struct Listing {
    pub query: ListQuery,
    pub sort: SortField,
    pub order: SortOrder,
}

impl ListParams {
    /// Newest first by default, all of them unless `limit` is given. A cursor continues the
    /// listing it came from: its sort and order take precedence over the parameters.
    pub fn into_query(self) -> Result<Listing, ApiError> {
        let mut errors = Vec::new();
        let cursor = match self.cursor.as_deref() {
            None => None,
            Some(raw) => {
                let cursor = decode_cursor(raw);
                if cursor.is_none() {
                    errors.push(FieldError::new(
                        "cursor",
                        "is not a cursor this server issued",
                    ));
                }
                cursor
            }
        };
        let sort = cursor
            .as_ref()
            .map(|c| c.s)
            .or(self.sort)
            .unwrap_or(SortField::CreatedAt);
        let order = cursor
            .as_ref()
            .map(|c| c.o)
            .or(self.order)
            .unwrap_or(match sort {
                SortField::CreatedAt | SortField::UpdatedAt => SortOrder::Desc,
                _ => SortOrder::Asc,
            });
        let due_before = due_bound("due_before", self.due_before.as_deref(), &mut errors);
        let due_after = due_bound("due_after", self.due_after.as_deref(), &mut errors);
        let after = cursor.map(|c| After {
            key: c.k,
            id: TaskId(c.i),
        });
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let query = ListQuery {
            filters: Filters {
                completed: self.completed,
                priority: self.priority,
                tag: self
                    .tag
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
                text: self.q.filter(|q| !q.trim().is_empty()),
                due_before,
                due_after,
            },
            sort: sort.into(),
            descending: order == SortOrder::Desc,
            limit: self.limit,
            after,
        };
        Ok(Listing { query, sort, order })
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

fn is_timestamp(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").is_ok()
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

/// `<path?query&cursor=…>; rel="next"`, keeping every other parameter of this request.
pub fn next_link(path: &str, query: Option<&str>, cursor: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k != "cursor" {
            out.append_pair(&k, &v);
        }
    }
    out.append_pair("cursor", cursor);
    format!("<{path}?{}>; rel=\"next\"", out.finish())
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

#[cfg(test)]
mod tests {
    use super::prefers_exact_count;

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
