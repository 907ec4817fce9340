//! ETags and conditional request headers (RFC 9110 §13), and the strict reading of the
//! headers that decide whether a write happens.

use poem::{IntoResponse, http::HeaderMap};
use poem_openapi::{ApiResponse, payload::Payload};

/// `Cache-Control` on a user's own resources (lists, tasks, the account): only the user's
/// client may keep a copy, and it revalidates it (by `ETag`, where there is one) before use,
/// so no shared cache hands one user's data to another.
pub const PRIVATE: &str = "private, no-cache";

/// A user's own resource as `T` writes it, kept by the user's client and revalidated by its
/// `ETag`.
#[derive(ApiResponse)]
pub enum Revalidated<T: Payload + IntoResponse + Send> {
    /// The resource.
    #[oai(status = 200)]
    Ok(
        T,
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

impl<T: Payload + IntoResponse + Send> Revalidated<T> {
    /// `body` with its `etag`, or 304 when `if_none_match` holds it.
    pub fn unless_current(if_none_match: Option<&EntityTags>, etag: String, body: T) -> Self {
        if if_none_match_hits(if_none_match.map(EntityTags::as_str), &etag) {
            Self::NotModified(etag, PRIVATE.into())
        } else {
            Self::Ok(body, etag, PRIVATE.into())
        }
    }
}

use crate::{
    domain::field::{Facts, FieldRule},
    error::ApiError,
};

/// `If-Match`, `If-None-Match` and `Idempotency-Key` decide whether a write happens: one
/// that cannot be read must not be taken as absent (a stale write would then win, or a
/// retried create run twice), so it is a 400 naming the header. Only the headers the
/// operation reads (`reads`, by name) are looked at.
pub fn check_request_headers(
    headers: &HeaderMap,
    reads: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    for name in ["If-Match", "If-None-Match"]
        .into_iter()
        .filter(|n| reads(n))
    {
        for value in headers.get_all(name) {
            if !is_etag_list(value.as_bytes()) {
                return Err(ApiError::BadHeader {
                    name,
                    message: "must be `*` or a comma-separated list of quoted ETags, e.g. \
                              \"12-3\", as sent in an `ETag` header",
                });
            }
        }
    }
    if !reads("Idempotency-Key") {
        return Ok(());
    }
    let keys = headers.get_all("Idempotency-Key");
    let mut count = 0;
    for value in keys {
        count += 1;
        let b = value.as_bytes();
        if count > 1 || b.is_empty() || b.len() > 255 || !b.iter().all(u8::is_ascii_graphic) {
            return Err(ApiError::BadHeader {
                name: "Idempotency-Key",
                message: "must be one value of 1–255 visible ASCII characters, e.g. a UUID",
            });
        }
    }
    Ok(())
}

/// The syntax of an `If-Match` or `If-None-Match` value, as the OpenAPI document states it
/// and as the server checks it (one pattern, so the two cannot disagree): `*`, or
/// `1#entity-tag` with `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE` (RFC 9110 §8.8.3), where
/// `etagc` is here visible ASCII other than `"` (no ETag this server sends holds anything
/// else), without the empty list elements RFC 9110 tolerates.
pub const ETAG_LIST_PATTERN: &str =
    r#"^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$"#;

static ETAG_LIST: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(ETAG_LIST_PATTERN).ok());

fn is_etag_list(value: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    text.is_ascii() && ETAG_LIST.as_ref().is_some_and(|re| re.is_match(text))
}

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
        "`*` or a comma-separated list of quoted ETags, like \"12-3\", as sent in an `ETag` header",
        "\"12-3\"",
    )
    .min(1)
    .max(1000)
    .pattern(ETAG_LIST_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        (raw.len() <= 1000 && is_etag_list(raw.as_bytes())).then(|| Self(raw.to_owned()))
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn etag_lists() {
        for good in [
            "*",
            "\"7-3\"",
            "W/\"abc\"",
            "\"a\", W/\"b\"",
            "\"\"",
            " \"x\" ",
            "W/\"P,\"\t, \"a,b\"",
        ] {
            assert!(is_etag_list(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            " ",
            "7-3",
            "\"7-3",
            "\"a\"b\"",
            "w/\"a\"",
            "\"caf\u{e9}\"",
            "*, \"a\"",
            "\"a\",,\"b\"",
        ] {
            assert!(!is_etag_list(bad.as_bytes()), "{bad}");
        }
        assert!(!is_etag_list(b"\"\xff\""));
    }

    #[test]
    fn what_the_documented_pattern_matches_is_accepted() {
        let re = regex::Regex::new(ETAG_LIST_PATTERN).unwrap();
        for sample in [
            "*",
            " * ",
            "\"7-3\"",
            "W/\"abc\"",
            "\"a\", W/\"b\"",
            "\"\"",
            "\"a\",\"b\"",
            "7-3",
            "\"a",
            "",
            "*, \"a\"",
            "\"caf\u{e9}\"",
            "\"a\" \"b\"",
            "W/ \"a\"",
        ] {
            assert_eq!(
                re.is_match(sample),
                is_etag_list(sample.as_bytes()),
                "{sample:?}"
            );
        }
    }

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
