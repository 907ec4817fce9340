//! Prometheus metrics: request latencies by route template, the pool, database errors by
//! class, throttled requests, password hashing queues. Served on a listener of their own (`METRICS_ADDR`), so the
//! public port never exposes them.
//!
//! Names follow OpenTelemetry's HTTP conventions where one exists
//! (`http_server_request_duration_seconds`).

use std::{net::SocketAddr, sync::OnceLock};

use crate::db::pool::Db;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::{
    EndpointExt, IntoResponse, Route, get, handler,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
    web::Data,
};

pub const REQUEST_DURATION: &str = "http_server_request_duration_seconds";

/// Seconds: from a cached read (a millisecond) to the statement timeout and beyond.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder (installed on first use; metrics are process-wide).
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), LATENCY_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "HTTP requests by method, route template and status"
    );
    metrics::describe_gauge!(
        "db_pool_connections",
        "Pooled database connections by state (idle, in_use) and the maximum (max)"
    );
    metrics::describe_counter!(
        "db_pool_acquire_timeouts_total",
        "Requests that found no database connection before the acquire deadline"
    );
    metrics::describe_counter!(
        "db_errors_total",
        "Database refusals and failures by class (starting, too_many_connections, statement_timeout, ...)"
    );
    metrics::describe_counter!(
        "user_share_waits_total",
        "Requests that queued because their user already used its share of connections"
    );
    metrics::describe_counter!(
        "throttled_requests_total",
        "Requests refused by a limit, by scope"
    );
    metrics::describe_gauge!(
        HASH_QUEUE_DEPTH,
        "Password hashing jobs waiting for a thread, by queue (login, registration)"
    );
    metrics::describe_counter!(
        HASH_SHED,
        "Password hashing jobs refused (503) because their queue was full, by queue"
    );
    for queue in HASH_QUEUES {
        metrics::gauge!(HASH_QUEUE_DEPTH, "queue" => queue).set(0.0);
        metrics::counter!(HASH_SHED, "queue" => queue).absolute(0);
    }
    metrics::describe_counter!(
        LIST_CACHE,
        "List requests by whether the list served before was still current (hit) or read again (miss)"
    );
    metrics::describe_counter!(
        LIST_PAGES_SHORTENED,
        "List pages ended early because list pages held all of LIST_PAGES_MEMORY"
    );
    metrics::describe_counter!(
        TASK_CHANGES,
        "Task changes decided, by what on: the task as last seen (seen), as read first (read), as found moved by the write (moved)"
    );
    metrics::describe_gauge!(
        "db_server_info",
        "1, labelled with the database server's version"
    );
}

/// Counts a request refused by a limit; `scope` names the limit (a rate limit's policy such
/// as `login-client`, `user_share`, or `searches`).
pub fn throttled(scope: &'static str) {
    metrics::counter!("throttled_requests_total", "scope" => scope).increment(1);
}

const HASH_QUEUE_DEPTH: &str = "password_hash_queue_depth";
const HASH_SHED: &str = "password_hash_shed_total";
/// The password hashing queues (see `auth::password`), present from the first scrape.
const HASH_QUEUES: [&str; 2] = ["login", "registration"];

/// A password hashing job began waiting in `queue`.
pub fn hash_queued(queue: &'static str) {
    metrics::gauge!(HASH_QUEUE_DEPTH, "queue" => queue).increment(1.0);
}

/// A password hashing job stopped waiting in `queue`: it began hashing, or its request went
/// away.
pub fn hash_dequeued(queue: &'static str) {
    metrics::gauge!(HASH_QUEUE_DEPTH, "queue" => queue).decrement(1.0);
}

/// A password hashing job was refused because `queue` was full.
pub fn hash_shed(queue: &'static str) {
    metrics::counter!(HASH_SHED, "queue" => queue).increment(1);
}

const LIST_CACHE: &str = "list_cache_requests_total";

/// A list request sent a list kept from before (`hit`), or read the page (`miss`).
pub fn list_cache(hit: bool) {
    let outcome = if hit { "hit" } else { "miss" };
    metrics::counter!(LIST_CACHE, "outcome" => outcome).increment(1);
}

const LIST_PAGES_SHORTENED: &str = "list_pages_shortened_total";

/// A list page was ended before `LIST_PAGE_BYTES` because list pages held all of
/// `LIST_PAGES_MEMORY`.
pub fn list_page_shortened() {
    metrics::counter!(LIST_PAGES_SHORTENED).increment(1);
}

const TASK_CHANGES: &str = "task_change_decisions_total";

/// A change (edit, complete, toggle) was decided on a task as this instance last saw it
/// (`seen`: the write is the change's one statement), as just read (`read`), or as a write
/// that found it moved answered with it (`moved`).
pub fn task_change_decided(on: &'static str) {
    metrics::counter!(TASK_CHANGES, "on" => on).increment(1);
}

/// Records one answered request.
pub fn request(method: &str, route: &str, status: u16, seconds: f64) {
    metrics::histogram!(
        REQUEST_DURATION,
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .record(seconds);
}

#[derive(Clone)]
struct Scrape {
    db: Db,
    max_connections: u32,
    server_version: String,
}

#[handler]
fn render(scrape: Data<&Scrape>) -> poem::Response {
    let Some(handle) = handle() else {
        return poem::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let size = scrape.db.size();
    let idle = u32::try_from(scrape.db.num_idle()).unwrap_or(u32::MAX);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(size.saturating_sub(idle));
    metrics::gauge!("db_pool_connections", "state" => "max").set(scrape.max_connections);
    metrics::gauge!("db_server_info", "version" => scrape.server_version.clone()).set(1.0);
    handle.run_upkeep();
    poem::Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// The metrics listener, bound (so its address is known) but not yet serving.
pub struct MetricsServer {
    acceptor: TcpAcceptor,
    pub addr: SocketAddr,
}

impl MetricsServer {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        // Installed before the first request is counted.
        handle();
        let acceptor = TcpListener::bind(addr).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(addr);
        Ok(Self { acceptor, addr })
    }

    /// Serves `GET /metrics` until the task is aborted.
    pub async fn run(self, db: Db, max_connections: u32, server_version: String) {
        let app = Route::new().at("/metrics", get(render)).data(Scrape {
            db,
            max_connections,
            server_version,
        });
        if let Err(e) = poem::Server::new_with_acceptor(self.acceptor)
            .run(app)
            .await
        {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
    }
}
