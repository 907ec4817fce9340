//! One error type for every failure a client can see, rendered as RFC 9457 problem details.
//!
//! 500s log their cause and tell the client nothing internal; database outages are 503s.

use poem::{
    IntoResponse, Response,
    error::{CorsError, MethodNotAllowedError, NotFoundError, ResponseError},
    http::{StatusCode, header},
};
use poem_openapi::{
    Object,
    error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    },
};
use serde::Serialize;

use crate::{auth::limited::Limited, db::refusal::Refusal};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

pub use crate::db::refusal::UNAVAILABLE_RETRY_AFTER_SECS;

/// Seconds a client should wait after the server shed its request for being busy.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// RFC 9457 problem details: the body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Object)]
#[oai(example)]
pub struct Problem {
    /// A URI reference naming the kind of problem, e.g. `/problems/validation`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A sentence for people, safe to show in a user interface.
    pub detail: String,
    /// The fields at fault, when the request body or query was the problem.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl poem_openapi::types::Example for Problem {
    fn example() -> Self {
        Self {
            kind: "/problems/validation".into(),
            title: "Validation failed".into(),
            status: 422,
            detail: "The request has 1 invalid field.".into(),
            errors: Some(vec![FieldError::new("title", "must not be empty")]),
        }
    }
}

/// One field that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Object)]
#[oai(example)]
pub struct FieldError {
    /// The field's name as it appears in the request (a body field or query parameter).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl poem_openapi::types::Example for FieldError {
    fn example() -> Self {
        Self::new("title", "must not be empty or only whitespace")
    }
}

impl From<Vec<crate::domain::field::Refusal>> for ApiError {
    fn from(refusals: Vec<crate::domain::field::Refusal>) -> Self {
        Self::Validation(
            refusals
                .into_iter()
                .map(|r| FieldError::new(r.field, r.message))
                .collect(),
        )
    }
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a bearer token was refused. The wording is general on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Invalid,
    Expired,
    Revoked,
    BadCredentials,
}

impl AuthFailure {
    fn detail(self) -> &'static str {
        match self {
            Self::Missing => {
                "Authentication is required: send an `Authorization: Bearer <token>` header."
            }
            Self::Invalid => "The bearer token is not valid.",
            Self::Expired => "The bearer token has expired: log in again.",
            Self::Revoked => "The session for this token has ended: log in again.",
            Self::BadCredentials => "Invalid email or password.",
        }
    }

    fn challenge(self) -> &'static str {
        match self {
            Self::Missing | Self::BadCredentials => r#"Bearer realm="todo-api""#,
            Self::Invalid | Self::Expired | Self::Revoked => {
                r#"Bearer realm="todo-api", error="invalid_token""#
            }
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A JSON object in the body gives this key more than once.
    #[error("duplicate key in body")]
    DuplicateKey(String),
    /// A request header that decides what happens cannot be read.
    #[error("bad header {name}")]
    BadHeader {
        name: &'static str,
        message: &'static str,
    },
    /// A cross-origin request the server's CORS policy refuses.
    #[error("CORS refused: {0}")]
    CorsRefused(&'static str),
    /// A protocol-level refusal with no better description (414, 431, …).
    #[error("refused with {0}")]
    Refused(StatusCode),
    #[error("unauthorized: {0:?}")]
    Unauthorized(AuthFailure),
    #[error("forbidden")]
    Forbidden,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String, Vec<FieldError>),
    #[error("precondition failed")]
    PreconditionFailed,
    /// What the request refers to is no longer kept (a sync token past the retention).
    #[error("gone: {0}")]
    Gone(String),
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body is sent in a `Content-Encoding` the server does not decode.
    #[error("unsupported content encoding")]
    UnsupportedContentEncoding,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many requests ({})", .0.policy)]
    TooManyRequests(Limited),
    /// A resource of the server's own (not the database) is saturated: shed the request.
    #[error("busy: {0}")]
    Busy(&'static str),
    #[error("database refused: {}", .0.label())]
    Database(Refusal),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn problem(&self) -> Problem {
        let (kind, title, detail, errors) = match self {
            Self::BadRequest(d) => ("bad-request", "Bad request", d.clone(), None),
            Self::DuplicateKey(key) => (
                "bad-request",
                "Bad request",
                format!(
                    "The body gives the key `{}` more than once: send each key once.",
                    shortened(key)
                ),
                Some(vec![FieldError::new(
                    shortened(key),
                    "is given more than once",
                )]),
            ),
            Self::BadHeader { name, message } => (
                "bad-header",
                "Bad request header",
                format!("The `{name}` header {message}."),
                Some(vec![FieldError::new(*name, *message)]),
            ),
            Self::CorsRefused(detail) => (
                "cors",
                "Cross-origin request refused",
                (*detail).into(),
                None,
            ),
            Self::Refused(status) => (
                "protocol",
                status.canonical_reason().unwrap_or("Bad request"),
                refused_detail(*status).into(),
                None,
            ),
            Self::Unauthorized(why) => ("unauthorized", "Unauthorized", why.detail().into(), None),
            Self::Forbidden => (
                "forbidden",
                "Forbidden",
                "This token does not grant access to another user's resources.".into(),
                None,
            ),
            Self::NotFound(d) => ("not-found", "Not found", d.clone(), None),
            Self::MethodNotAllowed => (
                "method-not-allowed",
                "Method not allowed",
                "This path does not support that method.".into(),
                None,
            ),
            Self::Conflict(d, errors) => (
                "conflict",
                "Conflict",
                d.clone(),
                (!errors.is_empty()).then(|| errors.clone()),
            ),
            Self::PreconditionFailed => (
                "precondition-failed",
                "Precondition failed",
                "The resource has changed since you read it: fetch it again and retry.".into(),
                None,
            ),
            Self::Gone(d) => ("gone", "Gone", d.clone(), None),
            Self::PayloadTooLarge => (
                "payload-too-large",
                "Payload too large",
                format!(
                    "The request body is larger than {} KiB.",
                    crate::limits::MAX_BODY_BYTES / 1024
                ),
                None,
            ),
            Self::UnsupportedContentEncoding => (
                "unsupported-content-encoding",
                "Unsupported content encoding",
                "The server does not decode a `Content-Encoding`: send the body as it is, \
                 without one (or with `identity`)."
                    .into(),
                None,
            ),
            Self::Validation(errors) => (
                "validation",
                "Validation failed",
                validation_detail(errors),
                Some(errors.clone()),
            ),
            Self::TooManyRequests(limited) => (
                "too-many-requests",
                "Too many requests",
                limited.detail.into(),
                None,
            ),
            Self::Busy(detail) => ("busy", "Server busy", (*detail).into(), None),
            Self::Database(refusal) => (
                "unavailable",
                "Service unavailable",
                refusal.detail().into(),
                None,
            ),
            Self::Internal(_) => (
                "internal",
                "Internal server error",
                "Something went wrong on our side; it has been logged.".into(),
                None,
            ),
        };
        Problem {
            kind: format!("/problems/{kind}"),
            title: title.into(),
            status: self.status().as_u16(),
            detail,
            errors,
        }
    }
}

fn refused_detail(status: StatusCode) -> &'static str {
    match status.as_u16() {
        414 => "The URL is too long.",
        431 => "The request's headers are too large.",
        405 => "This path does not support that method.",
        406 => "The server cannot produce a response in a format the request accepts.",
        408 => "The request took too long to arrive.",
        411 => "The request needs a `Content-Length`.",
        415 => "The body's content type is not supported here.",
        _ => "The request could not be understood.",
    }
}

/// A client's text quoted in a problem, cut to a length a message can hold.
fn shortened(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn validation_detail(errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("`{}` {}.", one.field, one.message.trim_end_matches('.')),
        many => format!("The request has {} invalid fields.", many.len()),
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::BadHeader { .. } | Self::DuplicateKey(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::CorsRefused(_) => StatusCode::FORBIDDEN,
            Self::Refused(status) => *status,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(..) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedContentEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy(_) | Self::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        if let Self::Internal(cause) = self {
            tracing::error!(%cause, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = Response::builder()
            .status(self.status())
            .content_type(PROBLEM_CONTENT_TYPE)
            .body(body);
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized(why) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(why.challenge()),
                );
            }
            Self::TooManyRequests(limited) => limited.write_headers(headers),
            // RFC 9110 §15.5.16: a 415 for a content coding says which codings would do.
            Self::UnsupportedContentEncoding => {
                headers.insert(
                    header::ACCEPT_ENCODING,
                    header::HeaderValue::from_static("identity"),
                );
            }
            Self::Busy(what) => {
                tracing::warn!(what, "request shed");
                headers.insert(header::RETRY_AFTER, BUSY_RETRY_AFTER_SECS.into());
            }
            Self::Database(refusal) => {
                headers.insert(header::RETRY_AFTER, refusal.retry_after_secs().into());
            }
            _ => {}
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.as_response()
    }
}

/// A pure classification: what the error means for the client. Recording what it says
/// about the database (health, lost connections) happens where requests are answered
/// (see `api::routes`), not here.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let Some(refusal) = Refusal::classify(&err) {
            return Self::Database(refusal);
        }
        // Class 22 (data exception): a value PostgreSQL cannot take, such as text with NUL.
        // The request is at fault, not the server; the input rules should catch it first.
        let bad_data = matches!(&err, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")));
        if bad_data {
            Self::BadRequest("The request contains a value the database cannot store.".into())
        } else {
            Self::Internal(err.to_string())
        }
    }
}

/// Turns any error that escaped a handler (poem's own parse errors, unknown routes, …)
/// into a problem response, so no client ever sees a plain-text error.
pub fn from_poem_error(err: poem::Error) -> ApiError {
    let err = match err.downcast::<ApiError>() {
        Ok(e) => return e,
        Err(err) => err,
    };
    if err.is::<NotFoundError>() {
        return ApiError::NotFound("There is nothing at this path.".into());
    }
    if err.is::<MethodNotAllowedError>() {
        return ApiError::MethodNotAllowed;
    }
    if err.is::<AuthorizationError>() {
        return ApiError::Unauthorized(AuthFailure::Missing);
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        // Parameters with a rule report their own refusal (see `api::field::Param`); what
        // remains is a value of the wrong type for a plain parameter.
        return ApiError::validation(e.name, "has a value of the wrong type or format");
    }
    if err.is::<ParsePathError>() {
        return ApiError::NotFound("There is nothing at this path.".into());
    }
    if err.is::<ContentTypeError>() {
        return ApiError::BadRequest(
            "The body must be JSON, sent with `Content-Type: application/json`.".into(),
        );
    }
    if err.is::<ParseRequestPayloadError>() {
        return ApiError::BadRequest("The body is not valid JSON.".into());
    }
    if let Some(e) = err.downcast_ref::<CorsError>() {
        return ApiError::CorsRefused(match e {
            CorsError::OriginNotAllowed => {
                "Requests from this web page's origin are not allowed: the server's \
                 CORS_ALLOWED_ORIGINS does not list it."
            }
            CorsError::MethodNotAllowed => "That method is not allowed from another origin.",
            CorsError::HeadersNotAllowed => {
                "A request header asked for is not allowed from another origin."
            }
        });
    }
    match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        s @ (StatusCode::URI_TOO_LONG | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE) => {
            ApiError::Refused(s)
        }
        StatusCode::NOT_FOUND => ApiError::NotFound("There is nothing at this path.".into()),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized(AuthFailure::Missing),
        s if s.is_client_error() => {
            ApiError::BadRequest("The request could not be understood.".into())
        }
        _ => ApiError::Internal(err.to_string()),
    }
}
