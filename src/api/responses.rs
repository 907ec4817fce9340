//! Per-operation error sets: each lists exactly the problem statuses its operation can
//! return, so the OpenAPI document tells clients the truth, while every one of them renders
//! through the single [`ApiError`].

use poem_openapi::{
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaSchema, Registry},
    types::Type,
};

use crate::error::{PROBLEM_CONTENT_TYPE, Problem};

/// The documentation of one problem status.
pub fn problem_response(status: u16) -> MetaResponse {
    let description = match status {
        400 => {
            "Malformed JSON (or an object giving a key twice: `errors` names it), wrong \
                content type, or an unreadable request."
        }
        401 => "Missing, invalid, expired or revoked credentials.",
        403 => "The token is valid but belongs to another user than the one in the URL.",
        404 => "Not found, or not yours.",
        409 => "Conflicts with existing data.",
        412 => "The `If-Match` ETag is stale: the resource changed since it was read.",
        410 => {
            "The sync token is older than the changes the server keeps: read everything again \
                without it."
        }
        413 => "The request body is too large.",
        415 => "The body has a `Content-Encoding`: the server decodes none, send it as it is.",
        422 => "One or more fields break their rules; `errors` names each.",
        429 => {
            "Too many attempts (or open streams); retry after `Retry-After` seconds. `RateLimit-Policy` and \
                `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10) name the limit reached."
        }
        503 => {
            "The database is unavailable, or the server is too busy; retry after \
                `Retry-After` seconds. `detail` says which."
        }
        _ => "Unexpected server error.",
    };
    let header = |name: &str, description: &str, ty: MetaSchema| MetaHeader {
        name: name.into(),
        description: Some(description.into()),
        required: true,
        deprecated: false,
        schema: poem_openapi::registry::MetaSchemaRef::Inline(Box::new(ty)),
    };
    let headers = match status {
        401 => vec![header(
            "WWW-Authenticate",
            "The bearer challenge.",
            MetaSchema::new("string"),
        )],
        429 => vec![
            header(
                "Retry-After",
                "Seconds to wait before retrying.",
                MetaSchema::new("integer"),
            ),
            header(
                "RateLimit-Policy",
                "The limit reached, e.g. `\"login-client\";q=20;w=900`: `q` attempts per `w` seconds.",
                MetaSchema::new("string"),
            ),
            header(
                "RateLimit",
                "What is left of it, e.g. `\"login-client\";r=0;t=120`: `r` remaining, reset in `t` seconds.",
                MetaSchema::new("string"),
            ),
        ],
        415 => vec![header(
            "Accept-Encoding",
            "`identity`: the only content coding a request body may have.",
            MetaSchema::new("string"),
        )],
        503 => vec![header(
            "Retry-After",
            "Seconds to wait before retrying.",
            MetaSchema::new("integer"),
        )],
        _ => vec![],
    };
    MetaResponse {
        description,
        status: Some(status),
        status_range: None,
        content: vec![MetaMediaType {
            content_type: PROBLEM_CONTENT_TYPE,
            schema: Problem::schema_ref(),
        }],
        headers,
    }
}

pub fn register_problem(registry: &mut Registry) {
    Problem::register(registry);
}

/// Declares an error type for an operation: `problems!(CreateTaskError: 400, 401, 422);`.
/// Handlers return `Result<Success, CreateTaskError>` and use `?` on anything that converts
/// into [`ApiError`](crate::error::ApiError).
#[macro_export]
macro_rules! problems {
    ($(#[$meta:meta])* $name:ident: $($status:literal),+ $(,)?) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name(pub $crate::error::ApiError);

        impl<E: Into<$crate::error::ApiError>> From<E> for $name {
            fn from(err: E) -> Self {
                Self(err.into())
            }
        }

        impl From<$name> for poem::Error {
            fn from(err: $name) -> poem::Error {
                poem::Error::from(err.0)
            }
        }

        impl poem_openapi::ApiResponse for $name {
            fn meta() -> poem_openapi::registry::MetaResponses {
                poem_openapi::registry::MetaResponses {
                    responses: vec![
                        $($crate::api::responses::problem_response($status),)+
                        $crate::api::responses::problem_response(500),
                    ],
                }
            }

            fn register(registry: &mut poem_openapi::registry::Registry) {
                $crate::api::responses::register_problem(registry);
            }
        }
    };
}
