//! Request ids and one log line per request. Headers and bodies are never logged: they
//! carry tokens and passwords.

use std::{panic::AssertUnwindSafe, time::Instant};

use futures_util::FutureExt;
use poem::{
    Endpoint, IntoResponse, Request, Response, Result,
    http::{HeaderValue, StatusCode},
};
use tracing::Instrument;

use super::{
    client::{ClientAddr, TrustedProxies},
    conditional::check_request_headers,
};
use crate::error::{ApiError, PROBLEM_CONTENT_TYPE, from_poem_error};

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
/// logs one line per request with it, records its metrics, and sets the headers every
/// response carries.
pub async fn trace_request<E: Endpoint>(
    next: E,
    mut req: Request,
    routes: &RouteIndex,
    proxies: &TrustedProxies,
) -> Result<Response> {
    let id = request_id(&req);
    let client = proxies.client_of(&req);
    req.extensions_mut().insert(ClientAddr(client));
    req.extensions_mut().insert(RequestId(id.clone()));
    let route = routes.template(req.uri().path()).to_owned();
    let method = req.method().to_string();
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
        let elapsed = started.elapsed().as_secs_f64();
        let latency_ms = elapsed * 1000.0;
        if status >= 500 {
            tracing::warn!(status, latency_ms, "request finished");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
        crate::instruments::request(&method, &route, status, elapsed);
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
/// conditional or idempotency headers cannot be read (400, once it carries credentials),
/// before anything else looks at it. hyper refuses still larger requests itself, with an empty body: these limits are
/// lower than its own so that a client almost always gets a problem it can read.
pub async fn strict_headers<E: Endpoint>(
    next: E,
    req: Request,
    index: &RouteIndex,
) -> Result<Response> {
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
    // Only the headers the operation reads are looked at (a method the route does not have is
    // answered 405 whatever its headers); and authentication is answered before header syntax:
    // every operation that reads these headers needs a token, so a request without one goes on
    // to its 401.
    if let Err(e) = super::body::check_content_coding(req.headers()) {
        return Ok(e.into_response());
    }
    let declared = index
        .declared_headers(req.uri().path(), req.method().as_str())
        .unwrap_or_default();
    let reads = |name: &str| declared.iter().any(|d| d.eq_ignore_ascii_case(name));
    let credentials = req
        .headers()
        .contains_key(poem::http::header::AUTHORIZATION);
    match check_request_headers(req.headers(), reads) {
        Err(e) if credentials => Ok(e.into_response()),
        _ => next.call(req).await.map(IntoResponse::into_response),
    }
}

/// The request's id, as `trace_request` settled it.
#[derive(Clone)]
struct RequestId(HeaderValue);

/// Turns a panic below into a 500 problem; inside CORS, so the answer keeps its CORS
/// headers.
pub async fn catch_panics<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let id = req.extensions().get::<RequestId>().map_or_else(
        || "-".to_owned(),
        |r| r.0.to_str().unwrap_or("-").to_owned(),
    );
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(answer) => answer.map(IntoResponse::into_response),
        Err(panic) => Ok(panic_response(panic.as_ref(), &id)),
    }
}

/// A handler panicked: one error line, and a 500 problem naming the request id, so the
/// client still gets an answer (with its CORS headers) and support can find the log line.
fn panic_response(panic: &(dyn std::any::Any + Send), request_id: &str) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(not a string)".to_owned());
    tracing::error!(panic = %message, "a handler panicked");
    let mut problem = ApiError::Internal(message).problem();
    problem.detail = format!(
        "Something went wrong on our side; it has been logged under request id {request_id}."
    );
    Response::builder()
        .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
        .content_type(PROBLEM_CONTENT_TYPE)
        .body(serde_json::to_vec(&problem).unwrap_or_default())
}

/// Each documented path's template and methods: the template labels metrics (so
/// `/api/7/tasks` and `/api/8/tasks` are one series), the methods fill the `Allow` header a
/// 405 must carry (RFC 9110 §15.5.6). Built from the OpenAPI document, so it cannot drift
/// from the routes.
pub struct RouteIndex(Vec<(regex::Regex, String, String, Vec<Operation>)>);

/// An operation of a route: its method and the header parameters it declares.
struct Operation {
    method: String,
    headers: Vec<String>,
}

/// The metrics label of every path that is not a route: unmatched paths must not create
/// a series each.
pub const UNMATCHED_ROUTE: &str = "unmatched";

impl RouteIndex {
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
                let declared: Vec<Operation> = operations
                    .as_object()?
                    .iter()
                    .map(|(method, operation)| Operation {
                        method: method.to_ascii_uppercase(),
                        headers: operation["parameters"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|p| p["in"] == "header")
                            .filter_map(|p| p["name"].as_str().map(str::to_ascii_lowercase))
                            .collect(),
                    })
                    .collect();
                let mut methods: Vec<String> = declared.iter().map(|o| o.method.clone()).collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                methods.push("OPTIONS".into());
                Some((re, template.clone(), methods.join(", "), declared))
            })
            .collect();
        Self(index)
    }

    pub fn allowed(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(re, ..)| re.is_match(path))
            .map(|(_, _, methods, _)| methods.as_str())
    }

    /// The header parameters the operation at `path` and `method` declares (lower case), or
    /// `None` when there is no such operation.
    pub fn declared_headers(&self, path: &str, method: &str) -> Option<&[String]> {
        let (.., operations) = self.0.iter().find(|(re, ..)| re.is_match(path))?;
        operations
            .iter()
            .find(|o| o.method == method)
            .map(|o| o.headers.as_slice())
    }

    /// The route template `path` belongs to, e.g. `/api/{user_id}/tasks`.
    pub fn template(&self, path: &str) -> &str {
        if let Some((_, template, ..)) = self.0.iter().find(|(re, ..)| re.is_match(path)) {
            return template;
        }
        match path {
            "/openapi.json" => "/openapi.json",
            "/openapi.yaml" => "/openapi.yaml",
            p if p == "/docs" || p.starts_with("/docs/") => "/docs",
            _ => UNMATCHED_ROUTE,
        }
    }
}

/// Adds `Allow` to 405 responses.
pub async fn allow_on_405<E: Endpoint>(
    next: E,
    req: Request,
    index: &RouteIndex,
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
