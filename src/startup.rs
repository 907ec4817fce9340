//! Building and running the application: database first (reach, migrate, verify), then the
//! listener, then serving until a shutdown signal.

use std::{
    future::Future,
    net::SocketAddr,
    time::{Duration, Instant},
};

use poem::{
    Server,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
};
use sqlx::PgPool;

use crate::{
    auth::{session_cache::SessionCache, token::JwtKeys},
    config::{ConfigError, DatabaseSettings, Settings},
    db::{
        connect::{self, ConnectError, ServerInfo},
        pooler::{self, Pooler},
        schema::{self, SchemaReport},
        url::DatabaseUrl,
    },
};

/// In-flight requests get this long to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub max_connections: u32,
    pub jwt: JwtKeys,
    /// Sessions already read, trusted while PostgreSQL can announce their changes.
    pub sessions: SessionCache,
    /// Housekeeping, started by requests rather than a timer.
    pub maintenance: crate::maintenance::Maintenance,
}

/// Why the server could not start. Each maps to a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Unreachable(#[from] ConnectError),
    #[error("{0}")]
    Schema(String),
    #[error("{0}")]
    Other(String),
}

impl StartupError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            Self::Unreachable(_) => 3,
            Self::Schema(_) => 4,
            Self::Other(_) => 1,
        }
    }

    fn schema(report: &SchemaReport) -> Self {
        let list: Vec<String> = report.problems.iter().map(|p| format!("  - {p}")).collect();
        Self::Schema(format!(
            "the database schema is not what this version expects ({} problem{}); run \
             `todo-api migrate` or fix the database:\n{}",
            list.len(),
            if list.len() == 1 { "" } else { "s" },
            list.join("\n")
        ))
    }
}

/// What the database looked like when the server started.
pub struct DatabaseReady {
    pub info: ServerInfo,
    pub report: SchemaReport,
}

/// Reaches the database over the direct (unpooled) URL, optionally migrates, then verifies
/// the schema. Returns the report even when it has problems, so `check` can print it.
pub async fn prepare_database(
    settings: &DatabaseSettings,
    run_migrations: bool,
) -> Result<DatabaseReady, StartupError> {
    let url = settings.migration_url();
    log_database_choice(settings);
    let mut conn = connect::connect_with_retry(url, settings.connect_timeout).await?;
    let info = connect::server_info(&mut conn)
        .await
        .map_err(|e| StartupError::Other(format!("cannot query the database: {e}")))?;
    tracing::info!(
        server_version = %info.version,
        latency_ms = info.latency.as_secs_f64() * 1000.0,
        "connected to PostgreSQL"
    );
    if run_migrations {
        schema::migrate(&mut conn)
            .await
            .map_err(|e| StartupError::Schema(format!("migrations failed: {e}")))?;
    }
    let report = schema::verify(&mut conn)
        .await
        .map_err(|e| StartupError::Other(format!("cannot read the database schema: {e}")))?;
    // Closing politely matters on Neon: an abandoned connection holds a slot until timeout.
    let _ = sqlx::Connection::close(conn).await;
    Ok(DatabaseReady { info, report })
}

fn log_database_choice(settings: &DatabaseSettings) {
    let url = &settings.url;
    tracing::info!(database = %url, tls = %connect::describe_tls(url), "database");
    if url.channel_binding_upgraded {
        tracing::info!(
            "channel_binding=require: sqlx cannot do SCRAM channel binding, so the server \
             verifies the certificate and host name instead (sslmode=verify-full)"
        );
    }
    match &settings.unpooled_url {
        Some(direct) => tracing::info!(
            direct = %direct,
            "migrations and schema checks use the direct (unpooled) connection"
        ),
        None if url.is_neon_pooler() => tracing::warn!(
            "DATABASE_URL is a pooler endpoint and no direct URL is known; migrations run through the pooler"
        ),
        None => {}
    }
}

/// Where the application's queries go. A transaction-mode pooler that loses prepared
/// statements would make sqlx fail or, worse, return wrong results, so when the probe finds
/// one (or cannot tell) the server uses the direct connection instead and says so.
async fn app_connection(settings: &DatabaseSettings) -> Result<DatabaseUrl, StartupError> {
    let Some(direct) = &settings.unpooled_url else {
        return Ok(settings.url.clone());
    };
    let unreachable = |cause| {
        StartupError::Unreachable(ConnectError {
            host: settings.url.host().to_owned(),
            cause,
        })
    };
    let probe = tokio::time::timeout(
        settings.connect_timeout,
        pooler::probe(settings.url.connect_options()),
    )
    .await
    .map_err(|_| unreachable(connect::ConnectCause::TimedOut(settings.connect_timeout)))?
    .map_err(|e| unreachable(connect::ConnectCause::Other(e.to_string())))?;
    match probe {
        Pooler::None => {
            tracing::info!(pooler = "none", "queries use DATABASE_URL");
            Ok(settings.url.clone())
        }
        Pooler::KeepsStatements => {
            tracing::info!(
                pooler = "transaction mode, keeps prepared statements",
                "queries use DATABASE_URL through its pooler"
            );
            Ok(settings.url.clone())
        }
        verdict @ (Pooler::LosesStatements | Pooler::Unknown) => {
            tracing::warn!(
                pooler = ?verdict,
                direct = %direct,
                "DATABASE_URL is a transaction-mode pooler that does not keep prepared statements \
                 (PgBouncer older than 1.22, or max_prepared_statements = 0): queries through it could \
                 fail or return wrong results, so the server connects directly instead. Upgrade \
                 the pooler or set max_prepared_statements to use it."
            );
            Ok(direct.clone())
        }
    }
}

pub struct Application {
    /// Where the application's queries go (DATABASE_URL, or the direct URL instead of an
    /// unsafe pooler).
    app_url: DatabaseUrl,
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    state: AppState,
    cors_allowed_origins: Vec<String>,
}

impl Application {
    /// Prepares the database, then binds the listener. Fails with a [`StartupError`] whose
    /// exit code says what is wrong.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let started = Instant::now();
        let ready = prepare_database(&settings.database, true).await?;
        if !ready.report.is_ok() {
            return Err(StartupError::schema(&ready.report));
        }
        tracing::info!(
            version = ready.report.version,
            "schema verified (version {})",
            ready.report.version.unwrap_or(0)
        );

        let app_url = app_connection(&settings.database).await?;
        let pool = connect::pool(&settings.database, &app_url);
        // One warm connection, so the first request does not pay for the handshake.
        let remaining = settings
            .database
            .connect_timeout
            .saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining.max(Duration::from_secs(1)), pool.acquire()).await {
            Ok(Ok(conn)) => drop(conn),
            Ok(Err(e)) => {
                return Err(StartupError::Unreachable(ConnectError {
                    host: settings.database.url.host().to_owned(),
                    cause: connect::ConnectCause::Other(e.to_string()),
                }));
            }
            Err(_) => {
                return Err(StartupError::Unreachable(ConnectError {
                    host: settings.database.url.host().to_owned(),
                    cause: connect::ConnectCause::TimedOut(settings.database.connect_timeout),
                }));
            }
        }

        let bind = SocketAddr::new(settings.http.host, settings.http.port);
        let acceptor = TcpListener::bind(bind)
            .into_acceptor()
            .await
            .map_err(|e| StartupError::Other(format!("cannot listen on {bind}: {e}")))?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(bind);
        tracing::info!(
            %addr,
            startup_ms = started.elapsed().as_secs_f64() * 1000.0,
            "listening on http://{addr} (docs at http://{addr}/docs)"
        );
        Ok(Self {
            app_url,
            acceptor,
            addr,
            state: AppState {
                sessions: SessionCache::new(
                    Some(settings.database.migration_url().connect_options().clone()),
                    pool.clone(),
                    settings.database.connect_timeout,
                ),
                maintenance: crate::maintenance::Maintenance::default(),
                pool,
                max_connections: settings.database.max_connections,
                jwt: JwtKeys::new(&settings.jwt),
            },
            cors_allowed_origins: settings.http.cors_allowed_origins,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Host and port the application's queries go to.
    pub fn database_host_port(&self) -> (String, u16) {
        let options = self.app_url.connect_options();
        (options.get_host().to_owned(), options.get_port())
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (bounded),
    /// and closes the pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let pool = self.state.pool.clone();
        let sessions = self.state.sessions.clone();
        let routes = crate::api::routes(self.state, &self.cors_allowed_origins);
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(routes, shutdown, Some(SHUTDOWN_GRACE))
            .await;
        sessions.stop();
        pool.close().await;
        tracing::info!("stopped");
        result
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
