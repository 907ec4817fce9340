//! Building and running the application: database first (reach, migrate, verify), then the
//! listener, then serving until a shutdown signal.

use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{
    api::client::TrustedProxies,
    api::tasks::{list_cache::ListCache, seen::SeenTasks},
    auth::{session_cache::SessionCache, share::Shares, token::JwtKeys},
    config::{ConfigError, ConnectionSettings, DatabaseSettings, Settings},
    db::{
        connect::{self, ConnectError, ServerInfo},
        health::DbHealth,
        liveness::Liveness,
        pooler::{self, Pooler},
        preflight,
        schema::{self, SchemaReport},
        url::DatabaseUrl,
    },
    instruments::MetricsServer,
    state::AppState,
};

/// In-flight requests get this long to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The process's exit status for each outcome; the CLI's help text and the README list
/// the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    Ok = 0,
    Other = 1,
    Config = 2,
    Unreachable = 3,
    Schema = 4,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        Self::from(status as u8)
    }
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
    pub fn exit_code(&self) -> ExitStatus {
        match self {
            Self::Config(_) => ExitStatus::Config,
            Self::Unreachable(_) => ExitStatus::Unreachable,
            Self::Schema(_) => ExitStatus::Schema,
            Self::Other(_) => ExitStatus::Other,
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

    fn conflicts(conflicts: &[String]) -> Self {
        let list: Vec<String> = conflicts.iter().map(|c| format!("  - {c}")).collect();
        Self::Schema(format!(
            "the database holds data that a pending migration cannot accept ({} conflict{}); \
             nothing was changed: resolve each, then run `todo-api migrate` again:\n{}",
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
    // Before anything changes: rows the pending migrations would refuse stop everything.
    let conflicts = preflight::conflicts(&mut conn)
        .await
        .map_err(|e| StartupError::Other(format!("cannot read the database: {e}")))?;
    if run_migrations && !conflicts.is_empty() {
        let _ = sqlx::Connection::close(conn).await;
        return Err(StartupError::conflicts(&conflicts));
    }
    if run_migrations {
        schema::migrate(&mut conn)
            .await
            .map_err(|e| StartupError::Schema(format!("migrations failed: {e}")))?;
    }
    let mut report = schema::verify(&mut conn)
        .await
        .map_err(|e| StartupError::Other(format!("cannot read the database schema: {e}")))?;
    report.problems.extend(
        conflicts
            .into_iter()
            .map(|c| format!("data a pending migration cannot accept: {c}")),
    );
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
    listener: TcpListener,
    addr: SocketAddr,
    metrics: Option<MetricsServer>,
    server_version: String,
    state: AppState,
    cors_allowed_origins: Vec<String>,
    trusted_proxies: TrustedProxies,
    connections: ConnectionSettings,
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
        let db_settings = &settings.database;
        let mut options = connect::pool_options(&app_url, db_settings.statement_timeout);
        let mut search_options =
            connect::pool_options(&app_url, Some(db_settings.search_statement_timeout));
        if !connect::accepts_startup_options(&search_options, db_settings.connect_timeout).await {
            tracing::warn!(
                "the pooler refuses the statement_timeout startup option, so statements are not \
                 bounded by DB_STATEMENT_TIMEOUT or DB_SEARCH_STATEMENT_TIMEOUT: set it for the \
                 role instead (ALTER ROLE <user> SET statement_timeout = '5s'), or let the \
                 pooler ignore `options` (ignore_startup_parameters)"
            );
            options = app_url.connect_options().clone();
            search_options = app_url.connect_options().clone();
        }
        let liveness = Arc::new(Liveness::default());
        let health = Arc::new(DbHealth::new(
            &ready.info,
            ready.report,
            options.clone(),
            liveness.clone(),
        ));
        let on_contact: Arc<dyn Fn() + Send + Sync> = {
            let health = health.clone();
            Arc::new(move || health.record_ok())
        };
        let acquire_timeout = db_settings.connect_timeout;
        let pool = connect::pool(
            db_settings.max_connections,
            acquire_timeout,
            options,
            liveness.clone(),
            on_contact.clone(),
        );
        let search_pool = connect::pool(
            db_settings.search_connections,
            acquire_timeout,
            search_options.application_name("todo-api searches"),
            liveness.clone(),
            on_contact,
        );
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

        let metrics = match settings.http.metrics_addr {
            Some(addr) => Some(MetricsServer::bind(addr).await.map_err(|e| {
                StartupError::Other(format!(
                    "cannot listen for metrics on {addr}: {e} (set METRICS_ADDR to a free address, or `off`)"
                ))
            })?),
            None => None,
        };
        if let Some(m) = &metrics {
            tracing::info!(addr = %m.addr, "metrics at http://{}/metrics", m.addr);
        }

        let bind = SocketAddr::new(settings.http.host, settings.http.port);
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| StartupError::Other(format!("cannot listen on {bind}: {e}")))?;
        let addr = listener.local_addr().unwrap_or(bind);
        tracing::info!(
            %addr,
            startup_ms = started.elapsed().as_secs_f64() * 1000.0,
            "listening on http://{addr} (docs at http://{addr}/docs)"
        );
        let shares = Shares::new(
            db_settings.max_connections_per_user,
            acquire_timeout.min(connect::MAX_ACQUIRE_TIMEOUT),
        );
        Ok(Self {
            app_url,
            listener,
            addr,
            metrics,
            server_version: ready.info.version,
            state: AppState {
                sessions: SessionCache::new(
                    Some(settings.database.migration_url().connect_options().clone()),
                    pool.clone(),
                    settings.database.connect_timeout,
                ),
                maintenance: crate::maintenance::Maintenance::new(settings.sync.retention),
                hub: crate::api::tasks::hub::Hub::new(
                    Some(settings.database.migration_url().connect_options().clone()),
                    pool.clone(),
                    settings.database.connect_timeout,
                    settings.sync.max_streams as usize,
                    settings.sync.max_per_user as usize,
                ),
                sse_heartbeat: settings.sync.heartbeat,
                db: pool,
                search_db: search_pool,
                liveness,
                shares,
                max_connections: settings.database.max_connections,
                jwt: JwtKeys::new(&settings.jwt),
                registrations: settings.registrations,
                health,
                max_tasks_per_user: settings.max_tasks_per_user,
                list_page_bytes: settings.list_page_bytes as usize,
                lists: Arc::new(ListCache::new(
                    settings.list_cache_bytes as usize,
                    settings.list_cache_max_age,
                )),
                seen: Arc::new(SeenTasks::new(
                    crate::api::tasks::seen::DEFAULT_BYTES,
                    settings.list_cache_max_age,
                )),
            },
            cors_allowed_origins: settings.http.cors_allowed_origins,
            trusted_proxies: TrustedProxies::new(settings.http.trusted_proxies),
            connections: settings.http.connections,
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
        &self.state.db
    }

    /// Where `/metrics` is served, unless `METRICS_ADDR=off`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.addr)
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (bounded),
    /// and closes the pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let db = self.state.db.clone();
        let search_db = self.state.search_db.clone();
        let sessions = self.state.sessions.clone();
        let hub = self.state.hub.clone();
        // Event streams never end by themselves: at shutdown they are ended, so that the
        // server can drain.
        let shutdown = async move {
            shutdown.await;
            hub.close_all();
        };
        let metrics = self.metrics.map(|m| {
            tokio::spawn(m.run(db.clone(), self.state.max_connections, self.server_version))
        });
        let routes =
            crate::api::routes(self.state, &self.cors_allowed_origins, self.trusted_proxies);
        let result = crate::server::serve(
            self.listener,
            routes,
            self.connections,
            shutdown,
            SHUTDOWN_GRACE,
        )
        .await;
        sessions.stop();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        tokio::join!(db.close(), search_db.close());
        tracing::info!("stopped");
        result
    }
}

/// Completes on SIGINT or SIGTERM.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    // The handlers are installed now, not when the future is first polled: the server's
    // accept loop may serve requests before it polls this, and a SIGTERM arriving then
    // would otherwise kill the process without a graceful shutdown.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(term) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}
