//! Request ids and one log line per request. Headers and bodies are never logged: they
//! carry tokens and passwords.

use std::{panic::AssertUnwindSafe, time::Instant};

use futures_util::FutureExt;
use poem::{Endpoint, IntoResponse, Request, Response, Result, http::HeaderValue};
use tracing::Instrument;

use crate::error::{ApiError, PROBLEM_CONTENT_TYPE};

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

pub async fn trace_request<E: Endpoint>(
    next: E,
    req: Request,
    routes: &RouteIndex,
) -> Result<Response> {
    let id = request_id(&req);
    let route = routes.template(req.uri().path()).to_owned();
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or("-"),
        method = %req.method(),
        path = req.uri().path(),
    );
    async move {
        let started = Instant::now();
        let answered = AssertUnwindSafe(next.call(req)).catch_unwind().await;
        let mut response = match answered {
            Ok(Ok(r)) => r.into_response(),
            Ok(Err(e)) => e.into_response(),
            Err(panic) => panic_response(panic.as_ref(), id.to_str().unwrap_or("-")),
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
        response.headers_mut().insert(REQUEST_ID, id);
        Ok(response)
    }
    .instrument(span)
    .await
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
pub struct RouteIndex(Vec<(regex::Regex, String, String)>);

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
                let mut methods: Vec<String> = operations
                    .as_object()?
                    .keys()
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                methods.push("OPTIONS".into());
                Some((re, template.clone(), methods.join(", ")))
            })
            .collect();
        Self(index)
    }

    pub fn allowed(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(re, ..)| re.is_match(path))
            .map(|(_, _, methods)| methods.as_str())
    }

    /// The route template `path` belongs to, e.g. `/api/{user_id}/tasks`.
    pub fn template(&self, path: &str) -> &str {
        if let Some((_, template, _)) = self.0.iter().find(|(re, ..)| re.is_match(path)) {
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
