//! Reaching PostgreSQL: a startup retry loop with backoff, errors that say why, the pool.

use std::{
    fmt,
    future::Future,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rand::Rng;
use sqlx::{
    Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
};

use super::{health::DbHealth, url::DatabaseUrl};
use crate::config::DatabaseSettings;

/// Idle connections are closed before Neon's five-minute suspend would kill them.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(4 * 60);
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
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

fn classify(err: sqlx::Error, url: &DatabaseUrl) -> ConnectCause {
    match err {
        sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            ConnectCause::Refused
        }
        sqlx::Error::Io(e) if e.to_string().contains("lookup") => ConnectCause::Dns,
        // rustls reports a refused certificate as an I/O error during the handshake.
        sqlx::Error::Io(e) if is_tls_failure(&e.to_string()) => ConnectCause::Tls(e.to_string()),
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

fn is_tls_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "ssl"]
        .iter()
        .any(|w| message.contains(w))
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
            Ok(Err(e)) => classify(e, url),
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

/// A connection idle for longer than this is pinged before it is handed out.
pub const TRUST_IDLE_FOR: Duration = Duration::from_secs(1);
/// After a connection was found dead, every connection is pinged for this long: its
/// siblings are likely dead too (a restart, or a suspended Neon compute, kills them all).
const SUSPICIOUS_FOR: Duration = Duration::from_secs(5);

/// When a connection was last found dead, in milliseconds since [`EPOCH`] (0: never).
static LAST_LOSS_MS: AtomicU64 = AtomicU64::new(0);
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn millis_since_epoch() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Whether `err` means the connection it happened on is gone (the server closed it, or
/// the network did), as opposed to a problem with the statement.
fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02")),
        _ => false,
    }
}

/// Records that a connection was found dead: for a while, every connection is tested
/// before use, so the dead ones are replaced instead of failing requests.
pub fn note_connection_lost() {
    LAST_LOSS_MS.store(millis_since_epoch(), Ordering::Relaxed);
}

/// Whether `err` means its connection is gone; if so, records it (see
/// [`note_connection_lost`]). Every place that meets a database error calls this.
pub fn note_if_lost(err: &sqlx::Error) -> bool {
    let lost = is_connection_lost(err);
    if lost {
        note_connection_lost();
    }
    lost
}

/// Runs a read again, once, when its connection turned out to be gone: a pooled
/// connection killed while idle (a restart, an administrator) is only found when used, and
/// a request whose session is cached starts with its own statement. The second attempt
/// gets a tested connection (see [`note_connection_lost`]).
pub async fn read_again_if_lost<T, Fut>(mut read: impl FnMut() -> Fut) -> Result<T, sqlx::Error>
where
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    match read().await {
        Err(e) if note_if_lost(&e) => {
            tracing::info!(error = %e, "a pooled connection was lost; reading again");
            read().await
        }
        other => other,
    }
}

/// Runs a single-statement write again, once, when the server had terminated its
/// connection (57P01/57P02). A terminated backend commits nothing it had not already
/// answered, so the statement did not take effect. Other losses (the network) are
/// ambiguous and are not retried.
pub async fn write_again_if_terminated<T, Fut>(
    mut write: impl FnMut() -> Fut,
) -> Result<T, sqlx::Error>
where
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    match write().await {
        Err(e) if note_if_lost(&e) && is_terminated(&e) => {
            tracing::info!(error = %e, "a pooled connection had been terminated; writing again");
            write().await
        }
        other => other,
    }
}

fn is_terminated(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| matches!(&*c, "57P01" | "57P02")))
}

/// Whether a connection was found dead in the last few seconds (see [`note_connection_lost`]).
pub fn suspicious() -> bool {
    let last = LAST_LOSS_MS.load(Ordering::Relaxed);
    last != 0 && millis_since_epoch().saturating_sub(last) < SUSPICIOUS_FOR.as_millis() as u64
}

/// The connect options of the application's pool: `url`'s, with `statement_timeout` sent
/// as a startup option (`-c statement_timeout=…`), so it holds on every connection without a
/// `SET` per connection (which a transaction-mode pooler would not keep).
pub fn pool_options(settings: &DatabaseSettings, url: &DatabaseUrl) -> PgConnectOptions {
    let options = url.connect_options().clone();
    match settings.statement_timeout {
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

/// The application's pool over `options`, sized and timed for a serverless database.
///
/// A connection in steady use is handed out without a test: sqlx already pings every
/// connection as it comes back to the pool, so testing it again on the way out would add a
/// third round trip to every statement. One that sat idle (Neon may have suspended its
/// compute), or any connection shortly after one was found dead, is pinged first and
/// replaced if the ping fails. What the pool meets is recorded in `health`.
pub fn pool(
    settings: &DatabaseSettings,
    options: PgConnectOptions,
    health: Arc<DbHealth>,
) -> PgPool {
    let on_connect = health.clone();
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(settings.connect_timeout.min(MAX_ACQUIRE_TIMEOUT))
        .idle_timeout(IDLE_TIMEOUT)
        .max_lifetime(MAX_LIFETIME)
        .test_before_acquire(false)
        .after_connect(move |_conn, _meta| {
            let health = on_connect.clone();
            Box::pin(async move {
                health.record_ok();
                Ok(())
            })
        })
        .before_acquire(move |conn, meta| {
            let health = health.clone();
            Box::pin(async move {
                if meta.idle_for >= TRUST_IDLE_FOR || suspicious() {
                    // A dead idle connection is expected (Neon closes them when it suspends
                    // the compute): it is replaced, and only the replacement's fate counts.
                    if let Err(e) = conn.ping().await {
                        note_connection_lost();
                        return Err(e);
                    }
                    health.record_ok();
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options)
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
