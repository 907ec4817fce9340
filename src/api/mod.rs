//! The HTTP API: poem-openapi operations, their wire types, and the routes around them.

pub mod auth;
pub mod body;
pub mod conditional;
pub mod health;
pub mod middleware;
pub mod nullable;
pub mod responses;
pub mod serde_json_payload;
pub mod tasks;
pub mod text;
pub mod timestamp;

use poem::{Endpoint, EndpointExt, Route, middleware::Cors};
use poem_openapi::{OpenApiService, Tags};

use crate::startup::AppState;

#[derive(Tags)]
pub enum ApiTags {
    /// Accounts and access tokens.
    Accounts,
    /// A user's tasks.
    Tasks,
    /// Liveness and readiness probes.
    Health,
}

pub type Apis = (auth::AuthApi, tasks::TasksApi, health::HealthApi);

const DESCRIPTION: &str = "\
Backend of the multi-user Todo application. Data lives in PostgreSQL (Neon).\n\n\
Errors are `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, \
and `errors` naming the fields at fault.";

/// The OpenAPI service: the same value serves requests and produces the document.
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (auth::AuthApi, tasks::TasksApi, health::HealthApi),
        "todo-api",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
}

/// The OpenAPI document as pretty JSON, exactly as `/openapi.json` serves it.
pub fn spec_json() -> String {
    service().spec()
}

pub fn spec_yaml() -> String {
    service().spec_yaml()
}

/// Every route, with error rendering, request ids and tracing, CORS and shared state.
pub fn routes(state: AppState, cors_allowed_origins: &[String]) -> impl Endpoint + 'static {
    let api = service();
    let allow = std::sync::Arc::new(middleware::AllowIndex::from_spec(&api.spec()));
    let docs = api.swagger_ui();
    let json = api.spec_endpoint();
    let yaml = api.spec_endpoint_yaml();
    let cors = cors_allowed_origins
        .iter()
        .fold(Cors::new(), |cors, origin| {
            cors.allow_origin(origin.as_str())
        })
        .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers([
            "authorization",
            "content-type",
            "if-match",
            "if-none-match",
            "idempotency-key",
            "prefer",
            "x-request-id",
        ])
        .expose_headers([
            "etag",
            "location",
            "link",
            "x-total-count",
            "preference-applied",
            "retry-after",
            "x-request-id",
        ])
        .max_age(600);
    Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.json", json)
        .at("/openapi.yaml", yaml)
        .data(state)
        .catch_all_error(|err| async move {
            poem::IntoResponse::into_response(crate::error::from_poem_error(err))
        })
        .around(move |next, req| {
            let allow = allow.clone();
            async move { middleware::allow_on_405(next, req, &allow).await }
        })
        .around(middleware::trace_request)
        .with(cors)
}
