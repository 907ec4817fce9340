//! What a client is told when a rate limit (see `auth::limits`) refuses its request.

use poem::http::{HeaderMap, HeaderValue, header};

/// A request refused by a rate limit, with what the limit is and when it resets.
///
/// Sent as `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` fields in the syntax of
/// draft-ietf-httpapi-ratelimit-headers-10 (structured-field lists of named policies):
/// `RateLimit-Policy: "login";q=5;w=900` and `RateLimit: "login";r=0;t=123`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// The policy's name: a token of lower-case letters and dashes.
    pub policy: &'static str,
    /// Requests allowed per window.
    pub quota: u32,
    pub window_secs: u64,
    /// Seconds until the window resets (at least 1).
    pub retry_after_secs: u64,
    pub detail: &'static str,
}

impl Limited {
    /// Adds `Retry-After`, `RateLimit-Policy` and `RateLimit` to a 429's headers.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let retry = self.retry_after_secs.max(1);
        headers.insert(header::RETRY_AFTER, retry.into());
        let policy = format!(
            "\"{}\";q={};w={}",
            self.policy, self.quota, self.window_secs
        );
        let state = format!("\"{}\";r=0;t={retry}", self.policy);
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_headers_name_the_policy_its_quota_and_when_it_resets() {
        let mut headers = HeaderMap::new();
        Limited {
            policy: "login-client",
            quota: 20,
            window_secs: 900,
            retry_after_secs: 0,
            detail: "",
        }
        .write_headers(&mut headers);
        let header = |name: &str| headers.get(name).unwrap().to_str().unwrap();
        assert_eq!(header("retry-after"), "1");
        assert_eq!(header("ratelimit-policy"), r#""login-client";q=20;w=900"#);
        assert_eq!(header("ratelimit"), r#""login-client";r=0;t=1"#);
    }
}
