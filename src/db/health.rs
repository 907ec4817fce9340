//! What this instance last learned about its database, without asking it again: the last
//! contact (success or the cause of failure) and when it happened, the server version and the
//! schema check made at startup. Readiness reads it; requests and the pool's hooks write it.
//!
//! A cause is logged once when it starts and once when it ends, never once per request.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};

use super::{
    connect::ServerInfo, liveness::Liveness, pool::Db, refusal::Refusal, schema::SchemaReport,
};

/// A live probe runs at most once per this interval, whoever asks.
pub const LIVE_PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a diagnosis of "no connection" is reused before another connect is tried.
const DIAGNOSIS_FRESH_FOR: Duration = Duration::from_secs(2);
const DIAGNOSIS_TIMEOUT: Duration = Duration::from_secs(1);

/// The last known state, as readiness reports it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `None` when the last contact succeeded.
    pub failure: Option<Refusal>,
    pub observed_at: DateTime<Utc>,
    pub server_version: String,
    pub latency: Option<Duration>,
    pub schema: SchemaReport,
    pub schema_checked_at: DateTime<Utc>,
}

struct Outage {
    cause: Refusal,
    since: Instant,
    at: Instant,
}

struct Known {
    outage: Option<Outage>,
    server_version: String,
    latency: Option<Duration>,
    schema: SchemaReport,
    schema_checked_at: DateTime<Utc>,
}

pub struct DbHealth {
    known: Mutex<Known>,
    /// Fast path for the common case: nothing is wrong, so a success only moves a timestamp.
    failing: AtomicBool,
    last_contact_ms: AtomicI64,
    /// Held while a live probe runs; remembers when the last one started.
    live_probe: tokio::sync::Mutex<Option<Instant>>,
    /// Where a diagnosing connection goes (the pool's own options).
    connect_options: PgConnectOptions,
    /// Told when a refusal means a connection was lost.
    liveness: Arc<Liveness>,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl DbHealth {
    pub fn new(
        info: &ServerInfo,
        schema: SchemaReport,
        connect_options: PgConnectOptions,
        liveness: Arc<Liveness>,
    ) -> Self {
        Self {
            known: Mutex::new(Known {
                outage: None,
                server_version: info.version.clone(),
                latency: Some(info.latency),
                schema,
                schema_checked_at: Utc::now(),
            }),
            failing: AtomicBool::new(false),
            last_contact_ms: AtomicI64::new(now_ms()),
            live_probe: tokio::sync::Mutex::new(None),
            connect_options,
            liveness,
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The database answered.
    pub fn record_ok(&self) {
        self.last_contact_ms.store(now_ms(), Ordering::Relaxed);
        if !self.failing.load(Ordering::Relaxed) {
            return;
        }
        let mut known = self.known();
        if let Some(outage) = known.outage.take() {
            tracing::info!(
                cause = outage.cause.label(),
                lasted_ms = outage.since.elapsed().as_millis() as u64,
                "database available again"
            );
        }
        self.failing.store(false, Ordering::Relaxed);
    }

    /// The database refused or failed for `cause`.
    pub fn record(&self, cause: Refusal) {
        metrics::counter!("db_errors_total", "class" => cause.label()).increment(1);
        if cause.loses_connection() {
            self.liveness.lost();
        }
        if !cause.is_outage() {
            tracing::debug!(cause = cause.label(), "{}", cause.detail());
            return;
        }
        self.last_contact_ms.store(now_ms(), Ordering::Relaxed);
        let mut known = self.known();
        let now = Instant::now();
        match &mut known.outage {
            Some(outage) if outage.cause == cause => outage.at = now,
            outage => {
                match outage {
                    Some(previous) => tracing::warn!(
                        cause = cause.label(),
                        previous = previous.cause.label(),
                        "database unavailable: {}",
                        cause.detail()
                    ),
                    None => tracing::warn!(
                        cause = cause.label(),
                        "database unavailable: {}",
                        cause.detail()
                    ),
                }
                *outage = Some(Outage {
                    cause,
                    since: now,
                    at: now,
                });
            }
        }
        self.failing.store(true, Ordering::Relaxed);
    }

    /// Records what `err` says about the database, if anything; returns its class.
    pub fn observe(&self, err: &sqlx::Error) -> Option<Refusal> {
        let cause = Refusal::classify(err)?;
        self.record(cause);
        Some(cause)
    }

    /// Turns "no connection before the deadline" into its real cause: the pool was full
    /// (busy), or the server refuses new connections for a reason one connect attempt
    /// reveals. A cause learned in the last two seconds is reused instead of connecting.
    pub async fn diagnose(&self, db: &Db, max_connections: u32) -> Refusal {
        if db.size() >= max_connections && db.num_idle() == 0 {
            return Refusal::Busy;
        }
        {
            let known = self.known();
            // A lost connection says nothing about why new ones fail: that one is not reused.
            if let Some(outage) = &known.outage
                && outage.cause != Refusal::ConnectionLost
                && outage.at.elapsed() < DIAGNOSIS_FRESH_FOR
            {
                return outage.cause;
            }
        }
        let attempt = tokio::time::timeout(
            DIAGNOSIS_TIMEOUT,
            PgConnection::connect_with(&self.connect_options),
        )
        .await;
        match attempt {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                self.record_ok();
                Refusal::Busy
            }
            Ok(Err(e)) => Refusal::classify(&e).unwrap_or(Refusal::NoConnection),
            Err(_) => Refusal::Unresponsive,
        }
    }

    /// The last known state; touches no database.
    pub fn snapshot(&self) -> Snapshot {
        let known = self.known();
        let observed_at =
            DateTime::from_timestamp_millis(self.last_contact_ms.load(Ordering::Relaxed))
                .unwrap_or_else(Utc::now);
        Snapshot {
            failure: known.outage.as_ref().map(|o| o.cause),
            observed_at,
            server_version: known.server_version.clone(),
            latency: known.latency,
            schema: known.schema.clone(),
            schema_checked_at: known.schema_checked_at,
        }
    }

    /// One cheap query (`server_version` and the applied migration version, one
    /// transaction), at most once per [`LIVE_PROBE_INTERVAL`] whoever asks; callers that
    /// arrive meanwhile get the state it left. Bounded by `timeout`.
    pub async fn probe_live(&self, pool: &Db, timeout: Duration) {
        let mut last = self.live_probe.lock().await;
        if last.is_some_and(|at| at.elapsed() < LIVE_PROBE_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        let started = Instant::now();
        let query = sqlx::query_as::<_, (String, Option<i64>)>(
            "SELECT current_setting('server_version'), \
             (SELECT max(version) FROM _sqlx_migrations WHERE success)",
        )
        .fetch_one(pool);
        match tokio::time::timeout(timeout, query).await {
            Ok(Ok((version, migrated))) => {
                let latency = started.elapsed();
                {
                    let mut known = self.known();
                    known.server_version = version;
                    known.latency = Some(latency);
                    if migrated != known.schema.version {
                        known.schema.problems.push(format!(
                            "the applied migration version changed to {} since startup: restart to verify the schema",
                            migrated.unwrap_or(0)
                        ));
                        known.schema.version = migrated;
                        known.schema_checked_at = Utc::now();
                    }
                }
                self.record_ok();
            }
            Ok(Err(e)) => {
                let cause = Refusal::classify(&e).unwrap_or(Refusal::NoConnection);
                let cause = if cause == Refusal::NoConnection {
                    self.diagnose(pool, u32::MAX).await
                } else {
                    cause
                };
                self.record(cause);
            }
            Err(_) => self.record(Refusal::Unresponsive),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::{
        io::Write,
        sync::{Arc, Mutex},
    };

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn health() -> DbHealth {
        let info = ServerInfo {
            version: "15.20 (Debian 15.20-1)".into(),
            latency: Duration::from_millis(1),
        };
        let schema = SchemaReport {
            version: Some(12),
            expected_version: 12,
            newer: Vec::new(),
            problems: Vec::new(),
        };
        DbHealth::new(&info, schema, PgConnectOptions::new(), Arc::default())
    }

    #[test]
    fn a_cause_is_logged_once_when_it_starts_and_once_when_it_ends() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let health = health();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..50 {
                health.record(Refusal::Starting);
            }
            assert_eq!(health.snapshot().failure, Some(Refusal::Starting));
            for _ in 0..50 {
                health.record_ok();
            }
        });
        assert_eq!(health.snapshot().failure, None);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("database unavailable") && text.contains("starting"));
        assert!(text.contains("database available again"));
    }

    #[test]
    fn a_slow_statement_or_a_full_pool_is_not_an_outage() {
        let health = health();
        health.record(Refusal::StatementTimeout);
        health.record(Refusal::Busy);
        health.record(Refusal::UserShare);
        assert_eq!(health.snapshot().failure, None);
    }
}
