//! Liveness and readiness: what a load balancer or an operator asks before sending traffic.

use std::time::Duration;

use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json, types::Example};

use super::{ApiTags, nullable::Nullable};
use crate::{db, startup::AppState};

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
    /// `ready` when the database is reachable and its schema is the expected one.
    pub status: ReadyStatus,
    pub database: DatabaseHealth,
    pub schema: SchemaHealth,
}

/// The database as this instance sees it.
#[derive(Debug, Object)]
#[oai(example)]
pub struct DatabaseHealth {
    /// Whether a query succeeded within the readiness bound.
    pub reachable: bool,
    /// Round trip of a trivial query, in milliseconds; `null` when unreachable.
    #[oai(nullable)]
    pub latency_ms: Nullable<f64>,
    /// PostgreSQL's `server_version`; `null` when unreachable.
    #[oai(nullable)]
    pub server_version: Nullable<String>,
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
    /// What is wrong, one sentence each.
    pub problems: Vec<String>,
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
            server_version: Nullable(Some("17.5".into())),
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
            problems: Vec::new(),
        }
    }
}

impl Example for Readiness {
    fn example() -> Self {
        Self {
            status: ReadyStatus::Ready,
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

    /// Readiness: the database is reachable and its schema verified.
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        let readiness = readiness(&state).await;
        match readiness.status {
            ReadyStatus::Ready => ReadyResponse::Ready(Json(readiness)),
            ReadyStatus::NotReady => {
                ReadyResponse::NotReady(Json(readiness), crate::error::UNAVAILABLE_RETRY_AFTER_SECS)
            }
        }
    }
}

async fn readiness(state: &AppState) -> Readiness {
    let probe = tokio::time::timeout(READY_TIMEOUT, db::probe(&state.pool)).await;
    let (info, report) = match probe {
        Ok(Ok((info, report))) => (Some(info), Some(report)),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness probe failed");
            (None, None)
        }
        Err(_) => {
            tracing::warn!("readiness probe timed out");
            (None, None)
        }
    };
    let size = state.pool.size();
    let idle = u32::try_from(state.pool.num_idle()).unwrap_or(u32::MAX);
    let pool = PoolHealth {
        size,
        idle,
        in_use: size.saturating_sub(idle),
        max: state.max_connections,
    };
    let schema = match report {
        Some(r) => SchemaHealth {
            ok: r.is_ok(),
            version: r.version.into(),
            expected_version: r.expected_version,
            problems: r.problems,
        },
        None => SchemaHealth {
            ok: false,
            version: Nullable(None),
            expected_version: db::schema::expected_version(),
            problems: vec!["the database could not be reached to check the schema".into()],
        },
    };
    let ready = info.is_some() && schema.ok;
    Readiness {
        status: if ready {
            ReadyStatus::Ready
        } else {
            ReadyStatus::NotReady
        },
        database: DatabaseHealth {
            reachable: info.is_some(),
            latency_ms: info
                .as_ref()
                .map(|i| (i.latency.as_secs_f64() * 1e5).round() / 100.0)
                .into(),
            server_version: info.map(|i| i.version).into(),
            pool,
        },
        schema,
    }
}
