//! Reaching PostgreSQL: a startup retry loop with backoff, errors that say why, the pool.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use rand::Rng;
use sqlx::{
    Connection, PgConnection,
    postgres::{PgConnectOptions, PgSslMode},
};

use super::{liveness::Liveness, pool::Db, url::DatabaseUrl};

/// How long a request waits for a pooled connection before it is answered with 503.
pub const MAX_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Why PostgreSQL could not be reached, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectCause {
    Dns,
    Refused,
    TimedOut(Duration),
    Tls(String),
    Auth(String),
    DatabaseMissing(String),
    Other(String),
}

impl ConnectCause {
    /// Errors a waking Neon compute, a restarting server or a flaky network can produce.
    fn is_transient(&self) -> bool {
        matches!(self, Self::Dns | Self::Refused | Self::Other(_))
    }
}

impl fmt::Display for ConnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns => {
                f.write_str("the host name does not resolve (DNS): check the host in the URL")
            }
            Self::Refused => f.write_str(
                "connection refused: is PostgreSQL running and listening on that host and port?",
            ),
            Self::TimedOut(d) => write!(
                f,
                "no connection within {}s (DB_CONNECT_TIMEOUT): check the host, port and network",
                d.as_secs_f32()
            ),
            Self::Tls(e) => write!(
                f,
                "TLS failed ({e}): check sslmode and sslrootcert in the URL"
            ),
            Self::Auth(user) => write!(
                f,
                "authentication failed for user `{user}`: check the user name and password"
            ),
            Self::DatabaseMissing(db) => write!(
                f,
                "database `{db}` does not exist: create it or fix the URL"
            ),
            Self::Other(e) => f.write_str(e),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot connect to PostgreSQL at {host}: {cause}")]
pub struct ConnectError {
    pub host: String,
    pub cause: ConnectCause,
}

/// Why a connect attempt to `url` failed, judged by the error's type and SQLSTATE. An I/O
/// error before any TLS or protocol step is a refused connection, or a host name that does
/// not resolve: which one is learned by resolving the name.
async fn classify(err: sqlx::Error, url: &DatabaseUrl) -> ConnectCause {
    match err {
        sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            ConnectCause::Refused
        }
        // rustls reports a refused certificate as an I/O error carrying its own error.
        sqlx::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
            ConnectCause::Tls(e.to_string())
        }
        sqlx::Error::Io(e) if !resolves(url).await => {
            tracing::debug!(error = %e, "the database host does not resolve");
            ConnectCause::Dns
        }
        sqlx::Error::Tls(e) => ConnectCause::Tls(e.to_string()),
        sqlx::Error::Database(e) => match e.code().as_deref() {
            Some("28P01" | "28000") => {
                ConnectCause::Auth(url.connect_options().get_username().to_owned())
            }
            Some("3D000") => {
                ConnectCause::DatabaseMissing(url.database().unwrap_or_default().to_owned())
            }
            _ => ConnectCause::Other(format!("the server said: {}", e.message())),
        },
        other => ConnectCause::Other(other.to_string()),
    }
}

/// Whether `url`'s host resolves to an address (an IP address always does).
async fn resolves(url: &DatabaseUrl) -> bool {
    let options = url.connect_options();
    let host = options.get_host().trim_matches(['[', ']']);
    if host.starts_with('/') || host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    tokio::net::lookup_host((host, options.get_port()))
        .await
        .is_ok_and(|mut addrs| addrs.next().is_some())
}

/// Opens one connection, retrying transient failures with exponential backoff and jitter
/// until `budget` is spent. A suspended Neon compute takes from a few hundred
/// milliseconds to seconds to wake, and sqlx itself retries only a few error kinds.
pub async fn connect_with_retry(
    url: &DatabaseUrl,
    budget: Duration,
) -> Result<PgConnection, ConnectError> {
    let deadline = Instant::now() + budget;
    let mut backoff = FIRST_BACKOFF;
    let fail = |cause| ConnectError {
        host: url.host().to_owned(),
        cause,
    };
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt =
            tokio::time::timeout(remaining, PgConnection::connect_with(url.connect_options()))
                .await;
        let cause = match attempt {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) => classify(e, url).await,
            Err(_) => return Err(fail(ConnectCause::TimedOut(budget))),
        };
        if !cause.is_transient() {
            return Err(fail(cause));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(fail(cause));
        }
        let jitter = rand::rng().random_range(0..=backoff.as_millis() as u64 / 2);
        let pause = (backoff + Duration::from_millis(jitter)).min(remaining);
        tracing::debug!(%cause, pause_ms = pause.as_millis() as u64, "database not reachable yet; retrying");
        tokio::time::sleep(pause).await;
        if Instant::now() >= deadline {
            return Err(fail(cause));
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The connect options of the application's pool: `url`'s, with `statement_timeout` sent
/// as a startup option (`-c statement_timeout=…`), so it holds on every connection without a
/// `SET` per connection (which a transaction-mode pooler would not keep).
pub fn pool_options(url: &DatabaseUrl, statement_timeout: Option<Duration>) -> PgConnectOptions {
    let options = url.connect_options().clone();
    match statement_timeout {
        Some(limit) => options.options([("statement_timeout", format!("{}ms", limit.as_millis()))]),
        None => options,
    }
}

/// Whether the server, or a pooler in front of it, accepts `options`' startup parameters.
/// PgBouncer refuses a startup parameter it does not know (`options` among them, unless its
/// `ignore_startup_parameters` lists it) with a protocol violation, SQLSTATE 08P01. Any
/// other failure is not about the options: the pool will meet and report it.
pub async fn accepts_startup_options(options: &PgConnectOptions, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            true
        }
        Ok(Err(sqlx::Error::Database(e))) => e.code().as_deref() != Some("08P01"),
        _ => true,
    }
}

/// The application's pool over `options`, sized and timed for a serverless database: at
/// most `max_connections`, a request waiting at most `acquire_timeout` (and never more than
/// [`MAX_ACQUIRE_TIMEOUT`]) for one. See [`Db`] for how connections are kept and checked;
/// `on_contact` is called whenever the database answered a connect or a ping.
pub fn pool(
    max_connections: u32,
    acquire_timeout: Duration,
    options: PgConnectOptions,
    liveness: Arc<Liveness>,
    on_contact: Arc<dyn Fn() + Send + Sync>,
) -> Result<Db, deadpool::managed::BuildError> {
    Db::new(
        max_connections,
        acquire_timeout.min(MAX_ACQUIRE_TIMEOUT),
        options,
        liveness,
        on_contact,
    )
}

/// What the server found when it first reached the database.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub version: String,
    pub latency: Duration,
}

pub async fn server_info(conn: &mut PgConnection) -> Result<ServerInfo, sqlx::Error> {
    let started = Instant::now();
    let version: String = sqlx::query_scalar("SELECT current_setting('server_version')")
        .fetch_one(&mut *conn)
        .await?;
    Ok(ServerInfo {
        version,
        latency: started.elapsed(),
    })
}

/// One line for the log about how TLS is set up, so nobody mistakes `require` for verified.
pub fn describe_tls(url: &DatabaseUrl) -> String {
    let mode = match url.connect_options().get_ssl_mode() {
        PgSslMode::Disable => "off",
        PgSslMode::Allow | PgSslMode::Prefer => "opportunistic, certificate not verified",
        PgSslMode::Require => {
            "required, certificate not verified (use sslmode=verify-full to verify)"
        }
        PgSslMode::VerifyCa => "required, certificate chain verified",
        PgSslMode::VerifyFull => "required, certificate and host name verified",
    };
    format!("TLS {mode}")
}
