//! Connections handed from one request to the next without sqlx's release ping.
//!
//! sqlx pings every connection that goes back to its pool: one more round trip per request,
//! during which the connection cannot be lent (see `FACTS.md`). The ping exists for
//! connections left mid-statement by a cancelled or failed future. A request that finished
//! its statements knows its connection is clean, so it releases it here with
//! [`Conn::release`]: to the request waiting longest, else parked for the next one, which
//! takes it as it is. Anything else (an error, a cancelled request, a panic) drops the
//! connection into sqlx's pool, which pings and repairs or closes it as before.
//!
//! Parked connections are the pool's idle ones, kept by the rules sqlx kept them by: one
//! parked for [`TRUST_IDLE_FOR`] or longer (or any, shortly after a connection was found
//! dead) is pinged before it is lent, and one parked for [`IDLE_TIMEOUT`] is closed, before
//! Neon's suspend would. A connection lent for [`REFRESH_AFTER`] goes back through sqlx's
//! pool once, so its lifetime limit still applies. An idle server sends nothing.

use std::{
    collections::VecDeque,
    ops::{Deref, DerefMut},
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use futures_util::{
    TryStreamExt,
    future::BoxFuture,
    stream::{self, BoxStream},
};
use sqlx::{
    Connection, Either, Execute, Executor, PgConnection, PgPool, Postgres,
    pool::PoolConnection,
    postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo},
};
use tokio::sync::{Notify, oneshot};

use super::connect::{IDLE_TIMEOUT, TRUST_IDLE_FOR, note_connection_lost, suspicious};

/// How long a connection is recycled before it goes back through sqlx's pool once.
pub const REFRESH_AFTER: Duration = Duration::from_secs(60);

/// The application's connections: sqlx's pool, and the clean connections parked in front
/// of it.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    max: u32,
    parked: Arc<Parked>,
}

#[derive(Default)]
struct Parked {
    state: Mutex<State>,
    /// Wakes the sweeper when a connection is parked, and when this is dropped.
    wake: Arc<Notify>,
}

#[derive(Default)]
struct State {
    /// Most recently parked last: the next request takes the warmest connection.
    conns: Vec<ParkedConn>,
    /// Requests waiting for a connection, first come first served: a released connection
    /// goes to the first of them rather than to the parked ones.
    waiters: VecDeque<oneshot::Sender<ParkedConn>>,
    /// Set by [`Db::close`]: a connection released afterwards (by a request or background
    /// task still running) is closed, not parked, so the pool's close can finish.
    closed: bool,
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

struct ParkedConn {
    conn: PoolConnection<Postgres>,
    taken_at: Instant,
    parked_at: Instant,
}

impl Parked {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the connections parked for `IDLE_TIMEOUT`; when the next one is due.
    fn sweep(&self) -> Option<Instant> {
        let stale: Vec<ParkedConn> = {
            let mut state = self.lock();
            let keep = state
                .conns
                .iter()
                .position(|p| p.parked_at.elapsed() < IDLE_TIMEOUT)
                .unwrap_or(state.conns.len());
            state.conns.drain(..keep).collect()
        };
        // Closed outside the lock, without a statement: a terminate message each.
        for mut parked in stale {
            parked.conn.close_on_drop();
        }
        self.lock()
            .conns
            .first()
            .map(|p| p.parked_at + IDLE_TIMEOUT)
    }

    /// Gives `parked` to the first request still waiting, else parks it.
    fn put(&self, mut parked: ParkedConn) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            parked.conn.close_on_drop();
            return;
        }
        while let Some(waiter) = state.waiters.pop_front() {
            match waiter.send(parked) {
                Ok(()) => return,
                Err(back) => parked = back, // that request got a connection from sqlx
            }
        }
        state.conns.push(parked);
        drop(state);
        self.wake.notify_one();
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("pool", &self.pool)
            .field("parked", &self.parked.lock().conns.len())
            .finish()
    }
}

impl Db {
    /// Wraps `pool`. Must be called within the Tokio runtime: it starts the sweeper, which
    /// sleeps until a connection is parked and ends with the last clone of this `Db`.
    pub fn new(pool: PgPool) -> Self {
        let parked = Arc::new(Parked::default());
        tokio::spawn(sweeper(Arc::downgrade(&parked), parked.wake.clone()));
        let max = pool.options().get_max_connections();
        Self { pool, max, parked }
    }

    /// sqlx's pool underneath (for its figures; statements go through [`Db`]).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many connections are open, parked ones included.
    pub fn size(&self) -> u32 {
        self.pool.size()
    }

    /// How many connections are idle: in sqlx's pool, and parked here (which sqlx counts
    /// as in use).
    pub fn idle(&self) -> u32 {
        u32::try_from(self.pool.num_idle() + self.parked.lock().conns.len()).unwrap_or(u32::MAX)
    }

    /// A connection: the most recently parked one; else whichever comes first of one
    /// released by another request and one from sqlx's pool (which opens one while below
    /// its size, and answers `PoolTimedOut` after its acquire timeout). After a connection
    /// was found dead, a parked one is pinged first, as sqlx's own are.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        loop {
            let parked = {
                let mut state = self.parked.lock();
                state.conns.pop().ok_or_else(|| {
                    let (tx, rx) = oneshot::channel();
                    if state.waiters.len() >= 64 {
                        state.waiters.retain(|w| !w.is_closed());
                    }
                    state.waiters.push_back(tx);
                    rx
                })
            };
            let parked = match parked {
                Ok(p) => p,
                Err(handed) if self.pool.size() < self.max => {
                    // Below its size, sqlx opens a connection (or lends an idle one); others
                    // may take that room first, so a handover still counts. A connection
                    // being opened is not thrown away when a handover comes first: it is
                    // parked for the next request.
                    let pool = self.pool.clone();
                    let mut opening = tokio::spawn(async move { pool.acquire().await });
                    tokio::select! {
                        Ok(p) = handed => {
                            let parked = self.parked.clone();
                            tokio::spawn(async move {
                                if let Ok(Ok(conn)) = opening.await {
                                    let now = Instant::now();
                                    parked.put(ParkedConn { conn, taken_at: now, parked_at: now });
                                }
                            });
                            p
                        }
                        opened = &mut opening => {
                            let conn = opened.map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))??;
                            return Ok(Conn {
                                conn,
                                taken_at: Instant::now(),
                                parked: self.parked.clone(),
                            });
                        }
                    }
                }
                Err(handed) => tokio::select! {
                    Ok(p) = handed => p,
                    conn = self.pool.acquire() => {
                        return Ok(Conn {
                            conn: conn?,
                            taken_at: Instant::now(),
                            parked: self.parked.clone(),
                        });
                    }
                },
            };
            let mut conn = parked.conn;
            let doubtful = parked.parked_at.elapsed() >= TRUST_IDLE_FOR || suspicious();
            if doubtful && conn.ping().await.is_err() {
                note_connection_lost();
                conn.close_on_drop();
                continue;
            }
            return Ok(Conn {
                conn,
                taken_at: parked.taken_at,
                parked: self.parked.clone(),
            });
        }
    }

    /// Closes the parked connections, then the pool (which waits for the connections in
    /// use).
    pub async fn close(&self) {
        let parked = {
            let mut state = self.parked.lock();
            state.closed = true;
            std::mem::take(&mut state.conns)
        };
        for mut parked in parked {
            parked.conn.close_on_drop();
        }
        self.pool.close().await;
    }
}

/// Closes parked connections as they reach `IDLE_TIMEOUT`; sleeps while none are parked.
async fn sweeper(parked: Weak<Parked>, wake: Arc<Notify>) {
    loop {
        let Some(next) = parked.upgrade().map(|p| p.sweep()) else {
            return;
        };
        match next {
            Some(due) => tokio::time::sleep_until(due.into()).await,
            // A connection parked since the sweep left a permit: this returns at once.
            None => wake.notified().await,
        }
    }
}

/// A connection taken from [`Db`]. [`Conn::release`] parks it for the next request; dropped
/// without that, it goes back through sqlx's pool and its release ping.
pub struct Conn {
    conn: PoolConnection<Postgres>,
    taken_at: Instant,
    parked: Arc<Parked>,
}

impl Conn {
    /// Parks the connection: call it only when every statement sent on it was read to the
    /// end (it succeeded, or failed with a database error after which PostgreSQL is ready).
    pub fn release(self) {
        let Self {
            conn,
            taken_at,
            parked,
        } = self;
        if taken_at.elapsed() >= REFRESH_AFTER {
            return; // dropped: back to sqlx's pool, which applies its lifetime limit
        }
        parked.put(ParkedConn {
            conn,
            taken_at,
            parked_at: Instant::now(),
        });
    }
}

impl Deref for Conn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// Statements sent to `&Db` run on a connection from [`Db::acquire`], which is released
/// once the statement was read to the end. A result is read whole before it is handed on
/// (every statement here returns at most a page of rows).
impl<'p> Executor<'p> for &'_ Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(
            stream::once(async move {
                let mut conn = db.acquire().await?;
                let all: Vec<_> = (&mut *conn).fetch_many(query).try_collect().await?;
                conn.release();
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
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(async move {
            let mut conn = db.acquire().await?;
            let row = (&mut *conn).fetch_optional(query).await?;
            conn.release();
            Ok(row)
        })
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
            let mut conn = db.acquire().await?;
            let statement = (&mut *conn).prepare_with(sql, parameters).await?;
            conn.release();
            Ok(statement)
        })
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>> {
        let db = self.clone();
        Box::pin(async move {
            let mut conn = db.acquire().await?;
            let described = (&mut *conn).describe(sql).await?;
            conn.release();
            Ok(described)
        })
    }
}
