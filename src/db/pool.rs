//! The application's connection pools: deadpool keeping sqlx connections, each of which
//! goes back to the pool as it is when its statements ran to their end.
//!
//! sqlx's own pool pings every connection that comes back (not configurable), so a
//! connection stays busy one more round trip after each request, and a request that takes
//! a connection twice waits for that ping or opens another connection. Here a connection
//! knows whether a statement it began was seen to its end ([`Tracked`]): one that was goes
//! back to the pool and is handed out again as it is; one left mid-statement (a cancelled
//! request, a lost link) is closed, never reused. A connection is pinged when it is handed
//! out only when it sat idle long enough for Neon to have suspended its compute, or shortly
//! after a connection was found dead ([`Liveness::must_test`]).
//!
//! Idle connections are closed after [`IDLE_TIMEOUT`] and every connection after
//! [`MAX_LIFETIME`], by a sweep that sends no statement: an idle server stays silent.

use std::{
    fmt,
    future::Future,
    ops::{Deref, DerefMut},
    sync::Arc,
    task::Poll,
    time::{Duration, Instant},
};

use deadpool::managed::{self, Metrics, Object, QueueMode, RecycleError, RecycleResult};
use futures_util::{
    StreamExt, TryStreamExt,
    future::BoxFuture,
    stream::{self, BoxStream},
};
use sqlx::{
    Connection, Either, Execute, Executor, PgConnection, Postgres,
    postgres::{
        PgConnectOptions, PgQueryResult, PgRow, PgStatement, PgTransactionManager, PgTypeInfo,
    },
};
use sqlx_core::transaction::TransactionManager;

use super::liveness::{Liveness, is_connection_lost};

/// Idle connections are closed before Neon's five-minute suspend would kill them.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(4 * 60);
/// A connection is closed after this long, however busy, so none lives forever.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How often idle and old connections are looked for: an idle one is closed at most this
/// long after [`IDLE_TIMEOUT`], still before Neon's suspend.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// The longest a refused connect (a restarting server, too many clients) waits before the
/// next attempt; the request's acquire deadline bounds them all.
const MAX_CONNECT_BACKOFF: Duration = Duration::from_millis(500);

/// Whether the statements begun on a connection were seen to their end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing is in flight: it can serve the next request as it is.
    Ready,
    /// A statement was sent and its end not yet read.
    InFlight,
    /// A statement failed in a way that may have left the protocol mid-message.
    Broken,
}

impl State {
    fn start(&mut self) {
        if *self == Self::Ready {
            *self = Self::InFlight;
        }
    }

    /// The statement ended, with `error` if it failed. A database error (a constraint, a
    /// bad value) leaves the connection usable; a lost link, or a failure sqlx reports
    /// without the server's answer, does not.
    fn finish(&mut self, error: Option<&sqlx::Error>) {
        if *self == Self::Broken {
            return;
        }
        *self = match error {
            Some(e) if !leaves_usable(e) => Self::Broken,
            _ => Self::Ready,
        };
    }
}

fn leaves_usable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(_) => !is_connection_lost(e),
        // Arguments that fail to encode are refused before anything is sent.
        sqlx::Error::Encode(_) => true,
        _ => false,
    }
}

/// A pooled connection and what is known of it: whether its last statement ended, and
/// since when it is idle. Statements run on `&mut Tracked` (an sqlx executor), or on a
/// [`Tx`] from [`Tracked::begin`].
pub struct Tracked {
    conn: PgConnection,
    state: State,
    idle_since: Instant,
}

impl fmt::Debug for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("state", &self.state)
            .field("idle_for", &self.idle_since.elapsed())
            .finish_non_exhaustive()
    }
}

impl Tracked {
    fn new(conn: PgConnection) -> Self {
        Self {
            conn,
            state: State::Ready,
            idle_since: Instant::now(),
        }
    }

    /// Whether it can go back to the pool: no statement in flight, no transaction open.
    pub fn is_reusable(&self) -> bool {
        self.state == State::Ready && !self.conn.is_in_transaction()
    }

    /// Begins a transaction; it is rolled back unless [`Tx::commit`] is called.
    pub async fn begin(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        track(
            &mut self.state,
            PgTransactionManager::begin(&mut self.conn, None),
        )
        .await?;
        Ok(Tx {
            conn: self,
            open: true,
        })
    }
}

/// A transaction on a [`Tracked`] connection: its statements run on `&mut *tx`. Dropped
/// without [`Tx::commit`], it is rolled back (the `ROLLBACK` goes with the connection's next
/// statement, as with sqlx's own transactions), and the connection stays reusable unless a
/// statement was left in flight.
pub struct Tx<'c> {
    conn: &'c mut Tracked,
    open: bool,
}

impl Tx<'_> {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let Tracked { conn, state, .. } = &mut *self.conn;
        track(state, PgTransactionManager::commit(conn)).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            PgTransactionManager::start_rollback(&mut self.conn.conn);
        }
    }
}

impl Deref for Tx<'_> {
    type Target = Tracked;

    fn deref(&self) -> &Tracked {
        self.conn
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Tracked {
        self.conn
    }
}

/// Runs `work` on a connection whose state is `state`: in flight until it ends.
async fn track<T>(
    state: &mut State,
    work: impl Future<Output = sqlx::Result<T>>,
) -> sqlx::Result<T> {
    state.start();
    let result = work.await;
    state.finish(result.as_ref().err());
    result
}

impl<'c> Executor<'c> for &'c mut Tracked {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let Tracked { conn, state, .. } = self;
        let mut rows = conn.fetch_many(query);
        let mut started = false;
        // In flight from the first poll until the stream ends: a stream dropped before its
        // end leaves the connection mid-statement.
        Box::pin(stream::poll_fn(move |cx| {
            if !started {
                started = true;
                state.start();
            }
            let next = rows.poll_next_unpin(cx);
            match &next {
                Poll::Ready(None) => state.finish(None),
                Poll::Ready(Some(Err(e))) => state.finish(Some(e)),
                _ => {}
            }
            next
        }))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let Tracked { conn, state, .. } = self;
        Box::pin(track(state, conn.fetch_optional(query)))
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        let Tracked { conn, state, .. } = self;
        Box::pin(track(state, conn.prepare_with(sql, parameters)))
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        let Tracked { conn, state, .. } = self;
        Box::pin(track(state, conn.describe(sql)))
    }
}

/// Opens, checks and judges the pool's connections.
pub struct Connector {
    options: PgConnectOptions,
    liveness: Arc<Liveness>,
    /// Called whenever the database answered a connect or a ping.
    on_contact: Arc<dyn Fn() + Send + Sync>,
}

impl managed::Manager for Connector {
    type Type = Tracked;
    type Error = sqlx::Error;

    /// Connects; a server that refuses for now (restarting, at its connection limit) is
    /// tried again with backoff, until the acquire deadline gives up on it.
    async fn create(&self) -> Result<Tracked, sqlx::Error> {
        let mut backoff = Duration::from_millis(10);
        loop {
            match PgConnection::connect_with(&self.options).await {
                Ok(conn) => {
                    (self.on_contact)();
                    return Ok(Tracked::new(conn));
                }
                Err(e) if refused_for_now(&e) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_CONNECT_BACKOFF);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Checks a connection about to be handed out again: too old, or idle long enough to
    /// be suspect and not answering a ping, it is closed and another one tried.
    async fn recycle(&self, conn: &mut Tracked, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        let idle_for = conn.idle_since.elapsed();
        if !keeps(idle_for, metrics.age()) {
            return Err(RecycleError::message("past its idle timeout or lifetime"));
        }
        if self.liveness.must_test(idle_for) {
            // A dead idle connection is expected (Neon closes them when it suspends the
            // compute): it is replaced, and only the replacement's fate counts.
            if let Err(e) = conn.conn.ping().await {
                self.liveness.lost();
                return Err(RecycleError::Backend(e));
            }
            (self.on_contact)();
        }
        Ok(())
    }
}

/// What sqlx's own pool retries while connecting: a refused connection, too many clients
/// (53300), or a server starting up (57P03).
fn refused_for_now(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("53300" | "57P03")),
        _ => false,
    }
}

/// Whether a connection idle for `idle_for` and open for `age` stays in the pool.
fn keeps(idle_for: Duration, age: Duration) -> bool {
    idle_for < IDLE_TIMEOUT && age < MAX_LIFETIME
}

/// A pool of [`Tracked`] connections. Statements sent to `&Db` itself run on a connection
/// taken for that statement alone.
#[derive(Clone)]
pub struct Db {
    pool: managed::Pool<Connector>,
    acquire_timeout: Duration,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("Db")
            .field("size", &status.size)
            .field("max", &status.max_size)
            .finish()
    }
}

impl Db {
    /// A pool of at most `max_connections` to `options`, whose requests wait at most
    /// `acquire_timeout` for a connection. Opens nothing yet. Must be called within a Tokio
    /// runtime: the sweep of idle connections runs on it.
    pub fn new(
        max_connections: u32,
        acquire_timeout: Duration,
        options: PgConnectOptions,
        liveness: Arc<Liveness>,
        on_contact: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Self, managed::BuildError> {
        let connector = Connector {
            options,
            liveness,
            on_contact,
        };
        let pool = managed::Pool::builder(connector)
            .max_size(max_connections as usize)
            // The most recently used first: the rest idle out when the load drops.
            .queue_mode(QueueMode::Lifo)
            .build()?;
        tokio::spawn(sweep(pool.weak()));
        Ok(Self {
            pool,
            acquire_timeout,
        })
    }

    /// A connection, or `PoolTimedOut` when none came within the acquire timeout (every one
    /// in use, or the database not answering), or the error that refused a new one.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        match tokio::time::timeout(self.acquire_timeout, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(Conn(Some(conn))),
            Ok(Err(managed::PoolError::Backend(e))) => Err(e),
            Ok(Err(managed::PoolError::Closed)) => Err(sqlx::Error::PoolClosed),
            Err(_) | Ok(Err(managed::PoolError::Timeout(_))) => Err(sqlx::Error::PoolTimedOut),
            Ok(Err(e)) => Err(sqlx::Error::Protocol(e.to_string())),
        }
    }

    /// Connections open now, in use or idle.
    pub fn size(&self) -> u32 {
        u32::try_from(self.pool.status().size).unwrap_or(u32::MAX)
    }

    /// Connections open and not in use.
    pub fn num_idle(&self) -> usize {
        self.pool.status().available
    }

    /// Closes the idle connections politely and refuses every acquire from now on;
    /// connections still in use are closed as they come back.
    pub async fn close(&self) {
        let idle = self.pool.retain(|_, _| false).removed;
        self.pool.close();
        futures_util::future::join_all(idle.into_iter().map(|t| t.conn.close())).await;
    }
}

/// Closes the connections idle for [`IDLE_TIMEOUT`] or open for [`MAX_LIFETIME`], every
/// [`SWEEP_EVERY`], until the pool is closed or gone.
async fn sweep(pool: managed::WeakPool<Connector>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(pool) = pool.upgrade() else { return };
        if pool.is_closed() {
            return;
        }
        let stale = pool
            .retain(|conn, metrics| keeps(conn.idle_since.elapsed(), metrics.age()))
            .removed;
        drop(pool);
        for conn in stale {
            let _ = conn.conn.close().await;
        }
    }
}

/// A connection taken from a [`Db`]: statements run on `&mut *conn`. Dropped, it goes back
/// to the pool if nothing is left in flight on it, and is closed otherwise.
pub struct Conn(Option<Object<Connector>>);

impl Deref for Conn {
    type Target = Tracked;

    fn deref(&self) -> &Tracked {
        self.0
            .as_deref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Tracked {
        self.0
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(mut conn) = self.0.take() else {
            return;
        };
        if conn.is_reusable() {
            conn.idle_since = Instant::now();
            return; // Object's own drop puts it back
        }
        tracing::debug!(state = ?conn.state, "a connection left mid-statement is closed, not reused");
        drop(Object::take(conn));
    }
}

/// Statements sent to `&Db` run on a connection from [`Db::acquire`], which goes back once
/// the statement was read to its end. A result is read whole before it is handed on (every
/// statement here returns at most a page of rows).
impl<'p> Executor<'p> for &'_ Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(
            stream::once(async move {
                let mut conn = db.acquire().await?;
                let all: Vec<_> = (&mut *conn).fetch_many(query).try_collect().await?;
                Ok::<_, sqlx::Error>(stream::iter(all.into_iter().map(Ok)))
            })
            .try_flatten(),
        )
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(async move { (&mut *db.acquire().await?).fetch_optional(query).await })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        let db = self.clone();
        Box::pin(async move {
            (&mut *db.acquire().await?)
                .prepare_with(sql, parameters)
                .await
        })
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        let db = self.clone();
        Box::pin(async move { (&mut *db.acquire().await?).describe(sql).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    }

    #[test]
    fn a_statement_seen_to_its_end_leaves_the_connection_ready() {
        let mut state = State::Ready;
        state.start();
        assert_eq!(state, State::InFlight);
        state.finish(None);
        assert_eq!(state, State::Ready);
    }

    #[test]
    fn a_statement_not_seen_to_its_end_leaves_it_in_flight() {
        let mut state = State::Ready;
        state.start();
        assert_eq!(state, State::InFlight);
    }

    #[test]
    fn a_lost_link_breaks_it_for_good_and_a_statement_error_does_not() {
        let mut state = State::Ready;
        state.start();
        state.finish(Some(&sqlx::Error::Encode("no".into())));
        assert_eq!(state, State::Ready);
        state.start();
        state.finish(Some(&io_error()));
        assert_eq!(state, State::Broken);
        state.start();
        state.finish(None);
        assert_eq!(state, State::Broken);
    }

    #[test]
    fn idle_and_old_connections_are_not_kept() {
        assert!(keeps(Duration::ZERO, Duration::ZERO));
        assert!(!keeps(IDLE_TIMEOUT, Duration::ZERO));
        assert!(!keeps(Duration::ZERO, MAX_LIFETIME));
    }

    #[test]
    fn only_refusals_that_pass_are_retried_while_connecting() {
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert!(refused_for_now(&refused));
        assert!(!refused_for_now(&io_error()));
        assert!(!refused_for_now(&sqlx::Error::PoolTimedOut));
    }
}
