//! Liveness and readiness: what a load balancer or an operator asks before sending traffic.

use std::time::Duration;

use chrono::Utc;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, param::Query, payload::Json, types::Example,
};

use super::{ApiTags, nullable::Nullable, timestamp::Timestamp};
use crate::{db::health::Snapshot, state::AppState};

/// How `/health/ready` learns the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Probe {
    /// One cheap query (one transaction), at most one per second for all callers together.
    Live,
}

/// Readiness answers within this bound even when the database hangs.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is running.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Liveness {
    /// Always `ok`.
    pub status: String,
}

impl Example for Liveness {
    fn example() -> Self {
        Self {
            status: "ok".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    NotReady,
}

/// Whether the server can serve requests, and why not.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Readiness {
    /// `ready` when the last contact with the database succeeded, its schema holds what
    /// this build uses, and the server is not shutting down.
    pub status: ReadyStatus,
    /// A shutdown signal arrived: the server finishes what it has and stops accepting
    /// connections after `SHUTDOWN_GRACE`, so a load balancer should send it nothing new.
    pub shutting_down: bool,
    /// When the database was last heard from (a request, a new connection, or a live probe).
    pub observed_at: Timestamp,
    /// Seconds since `observed_at`.
    pub age_seconds: f64,
    pub database: DatabaseHealth,
    pub schema: SchemaHealth,
}

/// The database as this instance sees it.
#[derive(Debug, Object)]
#[oai(example)]
pub struct DatabaseHealth {
    /// Whether the last contact with the database succeeded.
    pub reachable: bool,
    /// Round trip of the last probe (at startup, or `?probe=live`), in milliseconds; `null`
    /// when unreachable.
    #[oai(nullable)]
    pub latency_ms: Nullable<f64>,
    /// PostgreSQL's major version; `null` when unreachable. (The exact build is in
    /// `todo-api check` and the metrics.)
    #[oai(nullable)]
    pub server_version: Nullable<String>,
    /// Why the last contact failed, e.g. `starting`, `too_many_connections`,
    /// `credentials_refused`; `null` when it succeeded.
    #[oai(nullable)]
    pub cause: Nullable<String>,
    /// The cause in a sentence; `null` when the last contact succeeded.
    #[oai(nullable)]
    pub detail: Nullable<String>,
    pub pool: PoolHealth,
}

/// The connection pool of this instance.
#[derive(Debug, Object)]
#[oai(example)]
pub struct PoolHealth {
    /// Connections open now.
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// Connections serving a request now.
    pub in_use: u32,
    /// `DB_MAX_CONNECTIONS`.
    pub max: u32,
}

/// The schema check: migrations applied and structure as expected.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SchemaHealth {
    pub ok: bool,
    /// Highest migration applied; `null` when the database cannot be reached.
    #[oai(nullable)]
    pub version: Nullable<i64>,
    /// Highest migration this build knows.
    pub expected_version: i64,
    /// Migrations applied that this build does not know, all later than its own: a later
    /// release migrated the database (a rolling upgrade). Accepted while that release only
    /// added (tables, nullable or defaulted columns, indexes); `ok` says whether everything
    /// this build uses is still as it expects. Empty when the schema is this build's own.
    pub newer_migrations: Vec<i64>,
    /// What is wrong, one sentence each.
    pub problems: Vec<String>,
    /// When the schema was verified (at startup; `todo-api check` verifies it again).
    pub checked_at: Timestamp,
}

impl Example for PoolHealth {
    fn example() -> Self {
        Self {
            size: 2,
            idle: 1,
            in_use: 1,
            max: 10,
        }
    }
}

impl Example for DatabaseHealth {
    fn example() -> Self {
        Self {
            reachable: true,
            latency_ms: Nullable(Some(1.8)),
            server_version: Nullable(Some("17".into())),
            cause: Nullable(None),
            detail: Nullable(None),
            pool: PoolHealth::example(),
        }
    }
}

impl Example for SchemaHealth {
    fn example() -> Self {
        Self {
            ok: true,
            version: Nullable(Some(6)),
            expected_version: 6,
            newer_migrations: Vec::new(),
            problems: Vec::new(),
            checked_at: example_time(),
        }
    }
}

fn example_time() -> Timestamp {
    Timestamp(chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default())
}

impl Example for Readiness {
    fn example() -> Self {
        Self {
            status: ReadyStatus::Ready,
            shutting_down: false,
            observed_at: example_time(),
            age_seconds: 3.2,
            database: DatabaseHealth::example(),
            schema: SchemaHealth::example(),
        }
    }
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// Not ready: the body says why.
    #[oai(status = 503)]
    NotReady(Json<Readiness>, #[oai(header = "Retry-After")] u64),
}

// A `probe` other than `live` is refused before the handler runs.
crate::problems!(ReadyError: 422);

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: the process is up.
    #[oai(path = "/health/live", method = "get", operation_id = "health_live")]
    async fn live(&self) -> Json<Liveness> {
        Json(Liveness {
            status: "ok".into(),
        })
    }

    /// Readiness: the last known state of the database, the pool and the schema.
    ///
    /// By default it costs the database nothing: it reports what requests and the pool last
    /// met, so probing an idle server lets Neon suspend its compute. `?probe=live` runs one
    /// cheap query first (one transaction), at most once per second for all callers.
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(
        &self,
        state: Data<&AppState>,
        /// `live`: ask the database now (rate limited) instead of reporting the last contact.
        probe: Query<Option<Probe>>,
    ) -> Result<ReadyResponse, ReadyError> {
        if probe.0 == Some(Probe::Live) {
            state.health.probe_live(&state.db, READY_TIMEOUT).await;
        }
        let readiness = readiness(&state, state.health.snapshot());
        Ok(match readiness.status {
            ReadyStatus::Ready => ReadyResponse::Ready(Json(readiness)),
            ReadyStatus::NotReady => {
                ReadyResponse::NotReady(Json(readiness), crate::error::UNAVAILABLE_RETRY_AFTER_SECS)
            }
        })
    }
}

/// The major version only: the exact build tells an attacker which patches are missing.
fn major_version(version: &str) -> String {
    version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn readiness(state: &AppState, known: Snapshot) -> Readiness {
    let size = state.db.size();
    let idle = u32::try_from(state.db.num_idle()).unwrap_or(u32::MAX);
    let pool = PoolHealth {
        size,
        idle,
        in_use: size.saturating_sub(idle),
        max: state.max_connections,
    };
    let reachable = known.failure.is_none();
    let checked_at = Timestamp(known.schema_checked_at);
    let schema = match known.failure {
        None => SchemaHealth {
            ok: known.schema.is_ok(),
            version: known.schema.version.into(),
            expected_version: known.schema.expected_version,
            newer_migrations: known.schema.newer,
            problems: known.schema.problems,
            checked_at,
        },
        Some(_) => SchemaHealth {
            ok: false,
            version: Nullable(None),
            expected_version: known.schema.expected_version,
            newer_migrations: known.schema.newer,
            problems: vec![
                "the database cannot be reached, so its schema cannot be vouched for".into(),
            ],
            checked_at,
        },
    };
    let shutting_down = state
        .shutting_down
        .load(std::sync::atomic::Ordering::Relaxed);
    let ready = reachable && schema.ok && !shutting_down;
    let age = Utc::now().signed_duration_since(known.observed_at);
    Readiness {
        status: if ready {
            ReadyStatus::Ready
        } else {
            ReadyStatus::NotReady
        },
        shutting_down,
        observed_at: Timestamp(known.observed_at),
        age_seconds: (age.num_milliseconds().max(0) as f64) / 1000.0,
        database: DatabaseHealth {
            reachable,
            latency_ms: known
                .latency
                .filter(|_| reachable)
                .map(|l| (l.as_secs_f64() * 1e5).round() / 100.0)
                .into(),
            server_version: Some(major_version(&known.server_version))
                .filter(|_| reachable)
                .into(),
            cause: known.failure.map(|f| f.label().to_owned()).into(),
            detail: known.failure.map(|f| f.detail().to_owned()).into(),
            pool,
        },
        schema,
    }
}
