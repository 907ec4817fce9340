//! Request ids and one log line per request. Headers and bodies are never logged: they
//! carry tokens and passwords.

use std::time::Instant;

use poem::{
    Endpoint, IntoResponse, Request, Response, Result,
    http::{HeaderValue, StatusCode},
};
use tracing::Instrument;

use super::{
    client::{ClientAddr, TrustedProxies},
    conditional::check_request_headers,
};
use crate::error::{ApiError, from_poem_error};

pub const REQUEST_ID: &str = "x-request-id";

/// A client's request id is kept if it is short printable ASCII, else one is generated.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("-"))
        })
}

/// Resolves the client's address (kept in the request's extensions for the rate limits),
/// logs one line per request with it, and sets the headers every response carries.
pub async fn trace_request<E: Endpoint>(
    next: E,
    mut req: Request,
    proxies: &TrustedProxies,
) -> Result<Response> {
    let id = request_id(&req);
    let client = proxies.client_of(&req);
    req.extensions_mut().insert(ClientAddr(client));
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or("-"),
        client = %client,
        method = %req.method(),
        path = req.uri().path(),
    );
    async move {
        let started = Instant::now();
        // Errors from layers outside the routes (CORS) become problems here too.
        let mut response = match next.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => from_poem_error(e).into_response(),
        };
        let status = response.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, latency_ms, "request finished");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
        let headers = response.headers_mut();
        headers.insert(REQUEST_ID, id);
        // Browsers must take every body for what its Content-Type says, never sniff it.
        headers.insert(
            poem::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        Ok(response)
    }
    .instrument(span)
    .await
}

/// Longest URL served (path and query); longer is a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes (names and values) served; more is a 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses, as problems, a request whose URL or headers are too large (414, 431), or whose
/// conditional or idempotency headers cannot be read (400), before anything else looks at
/// it. hyper refuses still larger requests itself, with an empty body: these limits are
/// lower than its own so that a client almost always gets a problem it can read.
pub async fn strict_headers<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let uri_bytes = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Ok(ApiError::Refused(StatusCode::URI_TOO_LONG).into_response());
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Ok(ApiError::Refused(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).into_response());
    }
    match check_request_headers(req.headers()) {
        Ok(()) => next.call(req).await.map(IntoResponse::into_response),
        Err(e) => Ok(e.into_response()),
    }
}

/// The methods each documented path supports, for the `Allow` header a 405 must carry
/// (RFC 9110 §15.5.6). Built from the OpenAPI document, so it cannot drift from the routes.
pub struct AllowIndex(Vec<(regex::Regex, String)>);

impl AllowIndex {
    pub fn from_spec(spec_json: &str) -> Self {
        let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
        let paths = spec["paths"].as_object().cloned().unwrap_or_default();
        let index = paths
            .iter()
            .filter_map(|(template, operations)| {
                let pattern = template
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') {
                            "[^/]+".to_owned()
                        } else {
                            regex::escape(segment)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let re = regex::Regex::new(&format!("^{pattern}$")).ok()?;
                let mut methods: Vec<String> = operations
                    .as_object()?
                    .keys()
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                methods.push("OPTIONS".into());
                Some((re, methods.join(", ")))
            })
            .collect();
        Self(index)
    }

    pub fn allowed(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(re, _)| re.is_match(path))
            .map(|(_, methods)| methods.as_str())
    }
}

/// Adds `Allow` to 405 responses.
pub async fn allow_on_405<E: Endpoint>(
    next: E,
    req: Request,
    index: &AllowIndex,
) -> Result<Response> {
    let path = req.uri().path().to_owned();
    let mut response = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    if response.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
        && let Some(allowed) = index.allowed(&path)
        && let Ok(value) = HeaderValue::from_str(allowed)
    {
        response
            .headers_mut()
            .insert(poem::http::header::ALLOW, value);
    }
    Ok(response)
}
