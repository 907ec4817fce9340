//! Typed settings, parsed once from the environment (and `.env`) at startup.
//!
//! Every error names the variable at fault and how to fix it, and never echoes a secret.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use crate::db::url::DatabaseUrl;
pub use crate::secret::Secret;

/// A configuration problem: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Longer than any request of this API should take, short enough that a runaway
/// statement cannot hold a pooled connection for long.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a search or count may run unless `DB_SEARCH_STATEMENT_TIMEOUT` says otherwise.
pub const DEFAULT_SEARCH_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a kept list, or a task as last seen, is used at most unless
/// `LIST_CACHE_MAX_AGE` says otherwise: how long a write that fires no triggers can go unseen.
pub const DEFAULT_LIST_CACHE_MAX_AGE: Duration = Duration::from_secs(60);

/// How long the task change log keeps a change (`SYNC_RETENTION`): an older sync token is
/// answered 410.
pub const DEFAULT_SYNC_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Prometheus's registered default port for application exporters is 9464 (OpenTelemetry).
pub const DEFAULT_METRICS_PORT: u16 = 9464;

/// Shortest HS256 key we accept: the hash's own output size.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Where the application's queries go (may be a transaction-mode pooler).
    pub url: DatabaseUrl,
    /// Direct connection for migrations and schema checks, when one is known.
    pub unpooled_url: Option<DatabaseUrl>,
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// `statement_timeout` of the application's connections; `None` leaves the server's.
    pub statement_timeout: Option<Duration>,
    /// How many requests of one user may use the database at once.
    pub max_connections_per_user: u32,
    /// Connections for expensive reads (searches, counts), beside the main pool's.
    pub search_connections: u32,
    /// `statement_timeout` of those connections.
    pub search_statement_timeout: Duration,
}

impl DatabaseSettings {
    /// The URL that migrations and schema checks must use: never a transaction-mode pooler,
    /// because migrations hold a session-level advisory lock.
    pub fn migration_url(&self) -> &DatabaseUrl {
        self.unpooled_url.as_ref().unwrap_or(&self.url)
    }
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub secret: Secret<Vec<u8>>,
    pub ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub host: IpAddr,
    pub port: u16,
    pub cors_allowed_origins: Vec<String>,
    /// Where Prometheus scrapes `/metrics`; `None` (`METRICS_ADDR=off`) serves no metrics.
    pub metrics_addr: Option<SocketAddr>,
    pub connections: ConnectionSettings,
    /// Peers whose `X-Forwarded-For` is believed; empty: nobody's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// What one client may hold of the server's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// A request head (and, between requests, the next one) must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection that sends nothing for this long is closed (requests in flight finish).
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: u32,
    /// A connection that takes no bytes of a response for this long is closed.
    pub send_timeout: Duration,
    /// Requests one HTTP/2 connection may have open at once.
    pub http2_max_streams: u32,
    /// Requests served at once across all connections and streams, counted until the
    /// response has been handed to the socket; more wait briefly, then are refused (503).
    pub max_in_flight: u32,
}

/// Registrations allowed in each throttle window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationLimits {
    pub per_client: i32,
    /// Per network: a /24 for IPv4, a /56 for IPv6 (what one home or host usually has).
    pub per_prefix: i32,
    pub global: i32,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub jwt: JwtSettings,
    pub http: HttpSettings,
    pub registrations: RegistrationLimits,
    pub log_format: LogFormat,
    /// How many tasks one user may hold (`MAX_TASKS_PER_USER`).
    pub max_tasks_per_user: u32,
    /// How many bytes of served lists to keep (`LIST_CACHE_BYTES`; 0 keeps none).
    pub list_cache_bytes: u32,
    /// How long a kept list, or a task as last seen, is used at most (`LIST_CACHE_MAX_AGE`).
    pub list_cache_max_age: Duration,
    /// The most bytes of tasks one list page holds (`LIST_PAGE_BYTES`).
    pub list_page_bytes: u32,
    pub sync: SyncSettings,
}

/// Keeping clients in sync: the change log's retention and the event streams' limits.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How long a change stays in the log (`SYNC_RETENTION`, default 30 days).
    pub retention: Duration,
    /// How often a quiet event stream sends a comment (`SSE_HEARTBEAT`, default 15 s).
    pub heartbeat: Duration,
    /// Event streams open at once on an instance (`SSE_MAX_STREAMS`, default 2048), and at
    /// most half of `HTTP_MAX_CONNECTIONS`: an HTTP/1.1 stream holds a connection, and the
    /// other half stay for requests.
    pub max_streams: u32,
    /// Event streams one user may have open on an instance (`SSE_MAX_PER_USER`, default 8).
    pub max_per_user: u32,
}

fn sync_settings(env: &impl Env, http: &HttpSettings) -> Result<SyncSettings, ConfigError> {
    let retention = parse_duration_var(env, "SYNC_RETENTION", DEFAULT_SYNC_RETENTION)?;
    if retention < Duration::from_secs(3600) {
        return Err(ConfigError::new("SYNC_RETENTION", "must be at least 1h"));
    }
    let heartbeat = parse_duration_var(env, "SSE_HEARTBEAT", Duration::from_secs(15))?;
    if heartbeat.is_zero() || heartbeat > Duration::from_secs(3600) {
        return Err(ConfigError::new(
            "SSE_HEARTBEAT",
            "must be a positive duration of at most 1h",
        ));
    }
    let max_streams = parse_int(env, "SSE_MAX_STREAMS", 2048, 0, 1_000_000)?;
    Ok(SyncSettings {
        retention,
        heartbeat,
        max_streams: max_streams.min(http.connections.max_connections / 2),
        max_per_user: parse_int(env, "SSE_MAX_PER_USER", 8, 0, 10_000)?,
    })
}

/// Reads a variable; unset and empty are the same thing.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

impl Settings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let http = http_settings(env)?;
        Ok(Self {
            database: database_settings(env)?,
            jwt: jwt_settings(env)?,
            sync: sync_settings(env, &http)?,
            http,
            registrations: registration_limits(env)?,
            log_format: log_format(env)?,
            max_tasks_per_user: parse_int(
                env,
                "MAX_TASKS_PER_USER",
                crate::limits::DEFAULT_MAX_TASKS_PER_USER,
                1,
                10_000_000,
            )?,
            list_cache_bytes: parse_int(
                env,
                "LIST_CACHE_BYTES",
                crate::api::tasks::list_cache::DEFAULT_BYTES,
                0,
                1 << 30,
            )?,
            list_cache_max_age: list_cache_max_age(env)?,
            list_page_bytes: parse_int(
                env,
                "LIST_PAGE_BYTES",
                crate::limits::DEFAULT_PAGE_BYTES,
                1024,
                64 << 20,
            )?,
        })
    }
}

fn list_cache_max_age(env: &impl Env) -> Result<Duration, ConfigError> {
    let name = "LIST_CACHE_MAX_AGE";
    let age = parse_duration_var(env, name, DEFAULT_LIST_CACHE_MAX_AGE)?;
    if age > Duration::from_secs(24 * 3600) {
        return Err(ConfigError::new(name, "must be at most 24h"));
    }
    Ok(age)
}

/// Loads `.env` from the working directory, if there is one, without overriding variables
/// already set. A missing file is normal (production); a malformed one is an error.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(ConfigError::new(".env", format!("could not be read: {e}"))),
    }
}

/// `LOG_FORMAT` alone, for setting up logging before the rest of the settings are read.
pub fn log_format(env: &impl Env) -> Result<LogFormat, ConfigError> {
    match env.var("LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(_) => Err(ConfigError::new("LOG_FORMAT", "must be `text` or `json`")),
    }
}

pub fn database_settings(env: &impl Env) -> Result<DatabaseSettings, ConfigError> {
    let raw = env.var("DATABASE_URL").ok_or_else(|| {
        ConfigError::new(
            "DATABASE_URL",
            "is not set: set it to your PostgreSQL connection string, e.g. \
             postgresql://user:password@ep-example.eu-central-1.aws.neon.tech/neondb?sslmode=require",
        )
    })?;
    let url = DatabaseUrl::parse(&raw).map_err(|p| ConfigError::new("DATABASE_URL", p))?;
    let unpooled_url = match env.var("DATABASE_URL_UNPOOLED") {
        Some(raw) => Some(
            DatabaseUrl::parse(&raw).map_err(|p| ConfigError::new("DATABASE_URL_UNPOOLED", p))?,
        ),
        None => url.direct_endpoint(),
    };
    let max_connections = parse_int(env, "DB_MAX_CONNECTIONS", 10, 1, 1000)?;
    let connect_timeout = parse_duration_var(env, "DB_CONNECT_TIMEOUT", Duration::from_secs(5))?;
    if connect_timeout > Duration::from_secs(120) {
        return Err(ConfigError::new(
            "DB_CONNECT_TIMEOUT",
            "must be at most 120s",
        ));
    }
    let statement_timeout = match env.var("DB_STATEMENT_TIMEOUT").as_deref().map(str::trim) {
        Some("off") => None,
        _ => Some(parse_duration_var(
            env,
            "DB_STATEMENT_TIMEOUT",
            DEFAULT_STATEMENT_TIMEOUT,
        )?),
    };
    // A quarter of the pool by default: one user's slow requests leave the rest to others.
    let per_user_default = (max_connections / 4).max(1);
    let max_connections_per_user = parse_int(
        env,
        "DB_MAX_CONNECTIONS_PER_USER",
        per_user_default,
        1,
        max_connections,
    )?;
    // Expensive reads get a bulkhead of their own: a quarter of the pool again, and a
    // shorter bound on each statement.
    let search_connections = parse_int(
        env,
        "DB_SEARCH_CONNECTIONS",
        (max_connections / 4).max(1),
        1,
        max_connections,
    )?;
    let search_statement_timeout = parse_duration_var(
        env,
        "DB_SEARCH_STATEMENT_TIMEOUT",
        DEFAULT_SEARCH_STATEMENT_TIMEOUT,
    )?;
    if search_statement_timeout.is_zero() {
        return Err(ConfigError::new(
            "DB_SEARCH_STATEMENT_TIMEOUT",
            "must be longer than 0s",
        ));
    }
    Ok(DatabaseSettings {
        url,
        unpooled_url,
        max_connections,
        connect_timeout,
        statement_timeout,
        max_connections_per_user,
        search_connections,
        search_statement_timeout,
    })
}

pub fn jwt_settings(env: &impl Env) -> Result<JwtSettings, ConfigError> {
    let secret = env.var("JWT_SECRET").ok_or_else(|| {
        ConfigError::new(
            "JWT_SECRET",
            "is not set: set it to a random string of at least 32 bytes, e.g. the output of \
             `openssl rand -base64 48`",
        )
    })?;
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(ConfigError::new(
            "JWT_SECRET",
            format!(
                "is too short ({} bytes): it must be at least {MIN_JWT_SECRET_BYTES} bytes, e.g. \
                 the output of `openssl rand -base64 48`",
                secret.len()
            ),
        ));
    }
    let ttl = parse_duration_var(env, "JWT_TTL", Duration::from_secs(24 * 3600))?;
    if ttl > Duration::from_secs(30 * 24 * 3600) {
        return Err(ConfigError::new("JWT_TTL", "must be at most 30 days"));
    }
    Ok(JwtSettings {
        secret: Secret::new(secret.into_bytes()),
        ttl,
    })
}

pub fn http_settings(env: &impl Env) -> Result<HttpSettings, ConfigError> {
    let host = match env.var("HOST") {
        None => IpAddr::from([127, 0, 0, 1]),
        Some(h) if h.trim() == "localhost" => IpAddr::from([127, 0, 0, 1]),
        Some(h) => h.trim().parse().map_err(|_| {
            ConfigError::new("HOST", "must be an IP address such as 127.0.0.1 or 0.0.0.0")
        })?,
    };
    let port = parse_int(env, "PORT", 8001, 0, u16::MAX.into())?;
    let origins = env
        .var("CORS_ALLOWED_ORIGINS")
        .unwrap_or_else(|| "http://localhost:3000".to_owned());
    let cors_allowed_origins = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(parse_origin)
        .collect::<Result<Vec<_>, _>>()?;
    let metrics_addr = match env.var("METRICS_ADDR").as_deref().map(str::trim) {
        Some("off") => None,
        None => Some(SocketAddr::from(([127, 0, 0, 1], DEFAULT_METRICS_PORT))),
        Some(raw) => Some(raw.parse().map_err(|_| {
            ConfigError::new(
                "METRICS_ADDR",
                "must be an IP address and port such as 127.0.0.1:9464 or 0.0.0.0:9464, or `off`",
            )
        })?),
    };
    Ok(HttpSettings {
        host,
        port: u16::try_from(port).unwrap_or(8001),
        cors_allowed_origins,
        metrics_addr,
        connections: connection_settings(env)?,
        trusted_proxies: trusted_proxies(env)?,
    })
}

fn connection_settings(env: &impl Env) -> Result<ConnectionSettings, ConfigError> {
    let header_read_timeout =
        parse_duration_var(env, "HTTP_HEADER_READ_TIMEOUT", Duration::from_secs(10))?;
    let idle_timeout = parse_duration_var(env, "HTTP_IDLE_TIMEOUT", Duration::from_secs(60))?;
    let send_timeout = parse_duration_var(env, "HTTP_SEND_TIMEOUT", Duration::from_secs(10))?;
    for (name, value) in [
        ("HTTP_HEADER_READ_TIMEOUT", header_read_timeout),
        ("HTTP_IDLE_TIMEOUT", idle_timeout),
        ("HTTP_SEND_TIMEOUT", send_timeout),
    ] {
        if value > Duration::from_secs(3600) {
            return Err(ConfigError::new(name, "must be at most 1h"));
        }
    }
    Ok(ConnectionSettings {
        header_read_timeout,
        idle_timeout,
        max_connections: parse_int(env, "HTTP_MAX_CONNECTIONS", 512, 1, 1_000_000)?,
        send_timeout,
        http2_max_streams: parse_int(env, "HTTP2_MAX_STREAMS", 32, 1, 1000)?,
        max_in_flight: parse_int(env, "HTTP_MAX_IN_FLIGHT", 256, 1, 1_000_000)?,
    })
}

/// `TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks.
fn trusted_proxies(env: &impl Env) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let Some(raw) = env.var("TRUSTED_PROXIES") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    ConfigError::new(
                        "TRUSTED_PROXIES",
                        format!(
                            "has `{p}`, which is neither an IP address nor a CIDR block: use e.g. \
                             10.0.0.5,10.1.0.0/16,fd00::/8"
                        ),
                    )
                })
        })
        .collect()
}

pub fn registration_limits(env: &impl Env) -> Result<RegistrationLimits, ConfigError> {
    let limit = |name, default| {
        parse_int(env, name, default, 1, 1_000_000).map(|n| i32::try_from(n).unwrap_or(i32::MAX))
    };
    Ok(RegistrationLimits {
        per_client: limit("REGISTRATION_LIMIT_PER_CLIENT", 10)?,
        per_prefix: limit("REGISTRATION_LIMIT_PER_PREFIX", 30)?,
        global: limit("REGISTRATION_LIMIT_GLOBAL", 300)?,
    })
}

fn parse_origin(origin: &str) -> Result<String, ConfigError> {
    let bad = || {
        ConfigError::new(
            "CORS_ALLOWED_ORIGINS",
            format!(
                "has `{origin}`, which is not an origin: use scheme://host[:port], e.g. http://localhost:3000"
            ),
        )
    };
    let url = url::Url::parse(origin).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || url.path() != "/" {
        return Err(bad());
    }
    if origin.trim_end_matches('/').len() != url.origin().ascii_serialization().len() {
        return Err(bad());
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_int(
    env: &impl Env,
    name: &'static str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    let Some(raw) = env.var(name) else {
        return Ok(default);
    };
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            ConfigError::new(name, format!("must be a whole number from {min} to {max}"))
        })
}

fn parse_duration_var(
    env: &impl Env,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match env.var(name) {
        None => Ok(default),
        Some(raw) => parse_duration(&raw).ok_or_else(|| {
            ConfigError::new(
                name,
                "must be a positive duration such as 500ms, 5s, 30m, 24h or 7d (a bare number means seconds)",
            )
        }),
    }
}

/// Parses `500ms`, `5s`, `30m`, `24h`, `7d`, or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let duration = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    };
    (!duration.is_zero()).then_some(duration)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5 fortnights"), None);
        assert_eq!(parse_duration("-5s"), None);
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = Settings::from_env(&env(&[
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("JWT_SECRET", SECRET),
        ]))
        .unwrap();
        assert_eq!(s.http.port, 8001);
        assert_eq!(s.http.host.to_string(), "127.0.0.1");
        assert_eq!(s.http.cors_allowed_origins, vec!["http://localhost:3000"]);
        assert_eq!(s.database.max_connections, 10);
        assert_eq!(s.database.connect_timeout, Duration::from_secs(5));
        assert_eq!(s.jwt.ttl, Duration::from_secs(86_400));
        assert_eq!(s.log_format, LogFormat::Text);
        assert!(s.http.trusted_proxies.is_empty());
        assert_eq!(s.http.connections.max_connections, 512);
        assert_eq!(s.http.connections.send_timeout, Duration::from_secs(10));
        assert_eq!(s.http.connections.http2_max_streams, 32);
        assert_eq!(s.http.connections.max_in_flight, 256);
        assert_eq!(s.registrations.per_client, 10);
        assert_eq!(
            s.http.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert_eq!(
            s.database.statement_timeout,
            Some(DEFAULT_STATEMENT_TIMEOUT)
        );
        assert_eq!(s.database.max_connections_per_user, 2);
        assert_eq!(s.database.search_connections, 2);
        assert_eq!(
            s.database.search_statement_timeout,
            DEFAULT_SEARCH_STATEMENT_TIMEOUT
        );
        assert_eq!(s.max_tasks_per_user, 10_000);
        assert_eq!(s.list_cache_bytes, 8 * 1024 * 1024);
        assert_eq!(s.list_page_bytes, 1024 * 1024);
        assert_eq!(s.list_cache_max_age, Duration::from_secs(60));
        assert_eq!(s.sync.retention, DEFAULT_SYNC_RETENTION);
        assert_eq!(s.sync.heartbeat, Duration::from_secs(15));
        assert_eq!(s.sync.max_per_user, 8);
        // 2048 by default, but an HTTP/1.1 stream holds a connection: half of 512 at most.
        assert_eq!(s.sync.max_streams, 256);
    }

    #[test]
    fn the_stream_cap_follows_the_connection_cap_and_retention_has_a_floor() {
        let base = [
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("JWT_SECRET", SECRET),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            Settings::from_env(&env(&vars))
        };
        let s = with(&[("HTTP_MAX_CONNECTIONS", "10000")]).unwrap();
        assert_eq!(s.sync.max_streams, 2048);
        let s = with(&[
            ("HTTP_MAX_CONNECTIONS", "10000"),
            ("SSE_MAX_STREAMS", "4000"),
        ])
        .unwrap();
        assert_eq!(s.sync.max_streams, 4000);
        let err = with(&[("SYNC_RETENTION", "10m")]).unwrap_err();
        assert_eq!(err.variable, "SYNC_RETENTION");
        let err = with(&[("SSE_MAX_PER_USER", "many")]).unwrap_err();
        assert_eq!(err.variable, "SSE_MAX_PER_USER");
    }

    #[test]
    fn trusted_proxies_take_addresses_and_blocks() {
        let s = http_settings(&env(&[(
            "TRUSTED_PROXIES",
            "10.0.0.5, 10.1.0.0/16,fd00::/8",
        )]))
        .unwrap();
        let nets: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["10.0.0.5/32", "10.1.0.0/16", "fd00::/8"]);
    }

    #[test]
    fn metrics_and_statement_timeout_can_be_turned_off() {
        let s = Settings::from_env(&env(&[
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("JWT_SECRET", SECRET),
            ("METRICS_ADDR", "off"),
            ("DB_STATEMENT_TIMEOUT", "off"),
        ]))
        .unwrap();
        assert_eq!(s.http.metrics_addr, None);
        assert_eq!(s.database.statement_timeout, None);
    }

    #[test]
    fn a_short_jwt_secret_is_refused_without_echoing_it() {
        let err = jwt_settings(&env(&[("JWT_SECRET", "hunter2")])).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = jwt_settings(&env(&[("JWT_SECRET", SECRET)])).unwrap();
        assert!(!format!("{s:?}").contains(SECRET));
    }

    #[test]
    fn bad_numbers_and_origins_name_their_variable() {
        for (name, value) in [
            ("DB_MAX_CONNECTIONS", "0"),
            ("DB_MAX_CONNECTIONS", "ten"),
            ("PORT", "70000"),
            ("DB_CONNECT_TIMEOUT", "soon"),
            ("JWT_TTL", "0"),
            ("CORS_ALLOWED_ORIGINS", "localhost:3000"),
            ("CORS_ALLOWED_ORIGINS", "http://localhost:3000/app"),
            ("HOST", "my host"),
            ("LOG_FORMAT", "xml"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "proxy.internal"),
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("HTTP_HEADER_READ_TIMEOUT", "2h"),
            ("REGISTRATION_LIMIT_GLOBAL", "none"),
            ("MAX_TASKS_PER_USER", "0"),
            ("MAX_TASKS_PER_USER", "many"),
            ("LIST_CACHE_BYTES", "8MiB"),
            ("LIST_CACHE_BYTES", "-1"),
            ("LIST_CACHE_BYTES", "2147483648"),
            ("LIST_CACHE_MAX_AGE", "0s"),
            ("LIST_CACHE_MAX_AGE", "2d"),
            ("METRICS_ADDR", "9464"),
            ("DB_STATEMENT_TIMEOUT", "soon"),
            ("DB_MAX_CONNECTIONS_PER_USER", "11"),
        ] {
            let err = Settings::from_env(&env(&[
                ("DATABASE_URL", "postgres://u:p@localhost/db"),
                ("JWT_SECRET", SECRET),
                (name, value),
            ]))
            .unwrap_err();
            assert_eq!(err.variable, name, "{name}={value}");
        }
    }
}
