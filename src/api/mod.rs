//! The HTTP API: poem-openapi operations, their wire types, and the routes around them.

/// The raw-value methods of `poem_openapi::types::Type` for a type that is its own raw
/// value: one scalar, not a container.
macro_rules! raw_value_is_self {
    () => {
        fn as_raw_value(&self) -> Option<&Self::RawValueType> {
            Some(self)
        }

        fn raw_element_iter<'a>(
            &'a self,
        ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
            Box::new(self.as_raw_value().into_iter())
        }
    };
}

pub mod auth;
pub mod body;
pub mod client;
pub mod conditional;
pub mod field;
pub mod health;
pub mod legacy;
pub mod middleware;
pub mod nullable;
pub mod responses;
pub mod serde_json_payload;
pub mod tasks;
pub mod timestamp;

use poem::{Endpoint, EndpointExt, Route, middleware::Cors};
use poem_openapi::{OpenApiService, Tags};

use crate::{error::ApiError, state::AppState};

#[derive(Tags)]
pub enum ApiTags {
    /// Accounts and access tokens.
    Accounts,
    /// A user's tasks.
    Tasks,
    /// Liveness and readiness probes.
    Health,
    /// Deprecated: the original backend's account routes, kept for its clients. Each
    /// answers with `Deprecation` and a `Link` to the route that replaces it.
    Legacy,
}

pub type Apis = (
    auth::AuthApi,
    tasks::TasksApi,
    tasks::sync::SyncApi,
    health::HealthApi,
    legacy::LegacyApi,
);

const DESCRIPTION: &str = "\
Backend of the multi-user Todo application. Data lives in PostgreSQL (Neon).\n\n\
Errors are `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, \
and `errors` naming the fields at fault.";

/// The OpenAPI service: the same value serves requests and produces the document.
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            auth::AuthApi,
            tasks::TasksApi,
            tasks::sync::SyncApi,
            health::HealthApi,
            legacy::LegacyApi,
        ),
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
pub fn routes(
    state: AppState,
    cors_allowed_origins: &[String],
    proxies: client::TrustedProxies,
) -> impl Endpoint + 'static {
    let api = service();
    let index = std::sync::Arc::new(middleware::RouteIndex::from_spec(&api.spec()));
    let docs = api.swagger_ui();
    let json = api.spec_endpoint();
    let yaml = api.spec_endpoint_yaml();
    let on_error = state.clone();
    let app = Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.json", json)
        .at("/openapi.yaml", yaml)
        .data(state)
        .catch_all_error(move |err| {
            let state = on_error.clone();
            async move { poem::IntoResponse::into_response(answer_error(err, &state).await) }
        });
    edges(app, index, cors_allowed_origins, proxies)
}

/// An error that escaped a handler, as the client will see it. A database refusal is
/// recorded here, where the request meets it (health, lost connections, metrics), and a
/// pool timeout is diagnosed into its real cause.
async fn answer_error(err: poem::Error, state: &AppState) -> ApiError {
    match crate::error::from_poem_error(err) {
        ApiError::Database(refusal) => {
            let refusal = if refusal == crate::db::refusal::Refusal::NoConnection {
                metrics::counter!("db_pool_acquire_timeouts_total").increment(1);
                state
                    .health
                    .diagnose(&state.db, state.max_connections)
                    .await
            } else {
                refusal
            };
            state.health.record(refusal);
            ApiError::Database(refusal)
        }
        other => other,
    }
}

/// What every answer passes through, whatever produced it: `Allow` on 405s, strict request
/// headers, panics turned into 500 problems, CORS, and outermost the client's address,
/// request ids, a log line and metrics per request.
pub fn edges(
    app: impl Endpoint + 'static,
    index: std::sync::Arc<middleware::RouteIndex>,
    cors_allowed_origins: &[String],
    proxies: client::TrustedProxies,
) -> impl Endpoint + 'static {
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
            "last-event-id",
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
            "deprecation",
        ])
        .max_age(600);
    let allow = index.clone();
    let routes = index.clone();
    let proxies = std::sync::Arc::new(proxies);
    // Boxed between layers: each `around` nests the type below it, and unboxed the whole
    // stack is deeper than the compiler's query limit in release builds.
    app.around(legacy::mark_deprecated)
        .around(move |next, req| {
            let allow = allow.clone();
            async move { middleware::allow_on_405(next, req, &allow).await }
        })
        .boxed()
        .around(move |next, req| {
            let routes = routes.clone();
            async move { middleware::strict_headers(next, req, &routes).await }
        })
        .around(middleware::catch_panics)
        .boxed()
        .with(cors)
        // Outside CORS, so that a refused origin is logged and answered with a problem too.
        .around(move |next, req| {
            let index = index.clone();
            let proxies = proxies.clone();
            async move { middleware::trace_request(next, req, &index, &proxies).await }
        })
}

/// The route index of the API's own document (for [`edges`]).
pub fn route_index() -> std::sync::Arc<middleware::RouteIndex> {
    std::sync::Arc::new(middleware::RouteIndex::from_spec(&spec_json()))
}
