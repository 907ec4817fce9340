//! ETags and conditional request headers (RFC 9110 §13).

use crate::domain::field::{Facts, FieldRule};

/// An `If-Match` or `If-None-Match` value: ETags from earlier responses, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTags(String);

impl EntityTags {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FieldRule for EntityTags {
    const FACTS: Facts = Facts::text(
        "one or more ETags from earlier responses, like \"7-3\", or *",
        "\"7-3\"",
    )
    .min(1)
    .max(1000)
    .pattern(".");

    fn parse(raw: &str) -> Option<Self> {
        (!raw.is_empty() && raw.len() <= 1000).then(|| Self(raw.to_owned()))
    }
}

/// A task's strong ETag: its id and version, which every update increments.
pub fn task_etag(id: i32, version: i32) -> String {
    format!("\"{id}-{version}\"")
}

fn tags(header: &str) -> impl Iterator<Item = &str> {
    header.split(',').map(str::trim).filter(|t| !t.is_empty())
}

/// `If-Match`: absent, `*`, or listing the current ETag (strong comparison) lets a write
/// proceed.
pub fn if_match_allows(header: Option<&str>, current: &str) -> bool {
    header.is_none_or(|h| tags(h).any(|t| t == "*" || t == current))
}

/// `If-None-Match`: true when the client's copy is current, so 304 answers (weak comparison).
pub fn if_none_match_hits(header: Option<&str>, current: &str) -> bool {
    let weak = |t: &str| t.trim_start_matches("W/").to_owned();
    header.is_some_and(|h| tags(h).any(|t| t == "*" || weak(t) == weak(current)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match() {
        let etag = task_etag(7, 3);
        assert!(if_match_allows(None, &etag));
        assert!(if_match_allows(Some("*"), &etag));
        assert!(if_match_allows(Some("\"7-2\", \"7-3\""), &etag));
        assert!(!if_match_allows(Some("\"7-2\""), &etag));
        assert!(!if_match_allows(Some("W/\"7-3\""), &etag));
    }

    #[test]
    fn if_none_match() {
        assert!(if_none_match_hits(Some("W/\"abc\""), "W/\"abc\""));
        assert!(if_none_match_hits(Some("\"abc\""), "W/\"abc\""));
        assert!(!if_none_match_hits(Some("\"abd\""), "W/\"abc\""));
        assert!(!if_none_match_hits(None, "\"abc\""));
    }
}
