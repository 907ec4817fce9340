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
//!
//! Requests run by [`for_user`] hold at most their user's share of the connections
//! ([`Db::with_user_share`]). One past it waits in the same queue as everyone else, only
//! passed over: connections released meanwhile go to the requests behind it, and one of its
//! user's own that comes back goes to it first. Its place costs nothing while it waits, and
//! a user's requests queue behind each other only for as long as a statement of theirs runs.

use std::{
    collections::{HashMap, VecDeque},
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

/// A request waited the whole acquire timeout while its user held their share.
#[derive(Debug)]
pub struct ShareHeld;

impl std::fmt::Display for ShareHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the user's requests held their share of the pool")
    }
}

impl std::error::Error for ShareHeld {}

tokio::task_local! {
    /// The user a request runs for: their connections count against their share.
    static USER: i64;
}

/// Runs `work` (a request) for `user`: the connections it takes count against the user's
/// share of the pool ([`Db::with_user_share`]).
pub async fn for_user<F: std::future::Future>(user: i64, work: F) -> F::Output {
    USER.scope(user, work).await
}

struct Parked {
    /// sqlx's pool, for a request that may take a connection again (see [`Hold`]).
    pool: PgPool,
    /// How many connections one user's requests may hold at once.
    per_user: std::sync::atomic::AtomicU32,
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
    waiters: VecDeque<Waiter>,
    /// Connections held by each user's requests (users holding none are not here).
    held: HashMap<i64, u32>,
    /// Set by [`Db::close`]: a connection released afterwards (by a request or background
    /// task still running) is closed, not parked, so the pool's close can finish.
    closed: bool,
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

struct Waiter {
    user: Option<i64>,
    tx: oneshot::Sender<Handed>,
}

/// A parked connection handed to a waiting request, with the hold taken for its user: a
/// request that stops waiting before it takes it (it was cancelled, or took another) drops
/// it, and the hold with it.
struct Handed {
    parked: ParkedConn,
    hold: Hold,
}

struct ParkedConn {
    conn: PoolConnection<Postgres>,
    taken_at: Instant,
    parked_at: Instant,
}

impl Handed {
    /// The connection, its hold given up on `state` (whose lock the caller has).
    fn disarmed(mut self, state: &mut State) -> ParkedConn {
        self.hold.parked = None;
        state.unhold(self.hold.user);
        self.parked
    }
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

    fn per_user(&self) -> u32 {
        self.per_user.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Parks `parked` and gives parked connections to the requests waiting longest whose
    /// users are below their share. `user` gave it back, and holds one connection less.
    fn put(self: &Arc<Self>, parked: ParkedConn, user: Option<i64>) {
        let mut state = self.lock();
        state.unhold(user);
        self.park(state, parked);
    }

    /// Parks a connection handed to a request that did not take it.
    fn give_back(self: &Arc<Self>, handed: Handed) {
        let mut state = self.lock();
        let parked = handed.disarmed(&mut state);
        self.park(state, parked);
    }

    /// Parks `parked` (or closes it, once closing began) and dispatches.
    fn park(self: &Arc<Self>, mut state: std::sync::MutexGuard<'_, State>, parked: ParkedConn) {
        if state.closed {
            drop(state);
            let mut parked = parked;
            parked.conn.close_on_drop();
            return;
        }
        state.conns.push(parked);
        self.dispatch(state);
    }

    /// Gives parked connections to waiting requests, first come first served, passing over
    /// those whose users hold their share already; wakes the sweeper for what stays parked.
    fn dispatch(self: &Arc<Self>, mut state: std::sync::MutexGuard<'_, State>) {
        let per_user = self.per_user();
        let mut i = 0;
        while !state.conns.is_empty() && i < state.waiters.len() {
            if state.waiters[i].tx.is_closed() {
                state.waiters.remove(i);
                continue;
            }
            let user = state.waiters[i].user;
            if state.over_share(user, per_user) {
                i += 1;
                continue;
            }
            let (Some(waiter), Some(parked)) = (state.waiters.remove(i), state.conns.pop()) else {
                break;
            };
            let handed = Handed {
                parked,
                hold: state.hold(user, self),
            };
            if let Err(back) = waiter.tx.send(handed) {
                // That request stopped waiting meanwhile.
                let back = back.disarmed(&mut state);
                state.conns.push(back);
            }
        }
        let parked = !state.conns.is_empty();
        drop(state);
        if parked {
            self.wake.notify_one();
        }
    }
}

impl State {
    fn over_share(&self, user: Option<i64>, per_user: u32) -> bool {
        user.is_some_and(|u| self.held.get(&u).copied().unwrap_or(0) >= per_user)
    }

    /// Counts a connection against `user`'s share, until the [`Hold`] goes.
    fn hold(&mut self, user: Option<i64>, parked: &Arc<Parked>) -> Hold {
        if let Some(u) = user {
            *self.held.entry(u).or_insert(0) += 1;
        }
        Hold {
            user,
            parked: Some(parked.clone()),
        }
    }

    fn unhold(&mut self, user: Option<i64>) {
        if let Some(u) = user
            && let Some(n) = self.held.get_mut(&u)
        {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&u);
            }
        }
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
        let parked = Arc::new(Parked {
            pool: pool.clone(),
            per_user: u32::MAX.into(),
            state: Mutex::default(),
            wake: Arc::default(),
        });
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

    /// How many connections one user's requests may hold at once (by default, all).
    /// Requests run by [`for_user`] beyond that wait, passed over by released connections
    /// until one of their user's comes back.
    pub fn with_user_share(self, per_user: u32) -> Self {
        self.parked
            .per_user
            .store(per_user, std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// A connection: the most recently parked one; else whichever comes first of one
    /// released by another request and one from sqlx's pool (which opens one while below
    /// its size, and answers `PoolTimedOut` after its acquire timeout). After a connection
    /// was found dead, a parked one is pinged first, as sqlx's own are. A request whose
    /// user holds their share waits for a released connection only.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let user = USER.try_with(|u| *u).ok();
        loop {
            let next = {
                let mut state = self.parked.lock();
                let over = state.over_share(user, self.parked.per_user());
                // Past its share, a request leaves the parked connections to others.
                match if over { None } else { state.conns.pop() } {
                    Some(parked) => Ok(Handed {
                        parked,
                        hold: state.hold(user, &self.parked),
                    }),
                    None => {
                        let (tx, rx) = oneshot::channel();
                        if state.waiters.len() >= 64 {
                            state.waiters.retain(|w| !w.tx.is_closed());
                        }
                        state.waiters.push_back(Waiter { user, tx });
                        Err((rx, over))
                    }
                }
            };
            let Handed { parked, hold } = match next {
                Ok(handed) => handed,
                Err((mut handed, true)) => {
                    metrics::counter!("user_share_waits_total").increment(1);
                    let timeout = self.pool.options().get_acquire_timeout();
                    match tokio::time::timeout(timeout, &mut handed).await {
                        Ok(Ok(handed)) => handed,
                        _ => match take_back(&mut handed) {
                            Some(handed) => handed,
                            None => {
                                crate::instruments::throttled("user_share");
                                return Err(sqlx::Error::AnyDriverError(Box::new(ShareHeld)));
                            }
                        },
                    }
                }
                Err((mut handed, false)) if self.pool.size() < self.max => {
                    // Below its size, sqlx opens a connection (or lends an idle one); others
                    // may take that room first, so a handover still counts. A connection
                    // being opened is not thrown away when a handover comes first: it is
                    // parked for the next request.
                    let pool = self.pool.clone();
                    let mut opening = tokio::spawn(async move { pool.acquire().await });
                    tokio::select! {
                        Ok(handed) = &mut handed => {
                            let parked = self.parked.clone();
                            tokio::spawn(async move {
                                if let Ok(Ok(conn)) = opening.await {
                                    let now = Instant::now();
                                    parked.put(ParkedConn { conn, taken_at: now, parked_at: now }, None);
                                }
                            });
                            handed
                        }
                        opened = &mut opening => {
                            let conn = opened.map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))??;
                            return Ok(self.lent(conn, &mut handed, user));
                        }
                    }
                }
                Err((mut handed, false)) => tokio::select! {
                    Ok(handed) = &mut handed => handed,
                    conn = self.pool.acquire() => return Ok(self.lent(conn?, &mut handed, user)),
                },
            };
            let doubtful = parked.parked_at.elapsed() >= TRUST_IDLE_FOR || suspicious();
            let mut conn = Conn {
                conn: parked.conn,
                taken_at: parked.taken_at,
                hold,
            };
            if doubtful && conn.conn.ping().await.is_err() {
                note_connection_lost();
                conn.conn.close_on_drop();
                continue;
            }
            return Ok(conn);
        }
    }

    /// A connection from sqlx's pool, lent to `user`; one handed over meanwhile is parked.
    fn lent(
        &self,
        conn: PoolConnection<Postgres>,
        handed: &mut oneshot::Receiver<Handed>,
        user: Option<i64>,
    ) -> Conn {
        // Held first: giving the extra back must not lend it to this user past their share.
        let hold = self.parked.lock().hold(user, &self.parked);
        if let Some(extra) = take_back(handed) {
            self.parked.give_back(extra);
        }
        Conn {
            conn,
            taken_at: Instant::now(),
            hold,
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

/// Stops waiting for a handover: what was handed over meanwhile, if anything.
fn take_back(handed: &mut oneshot::Receiver<Handed>) -> Option<Handed> {
    handed.close();
    handed.try_recv().ok()
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
    hold: Hold,
}

/// A user's hold on a connection: given up when the connection is released or dropped.
struct Hold {
    user: Option<i64>,
    /// Taken by a release, which gives the hold up itself.
    parked: Option<Arc<Parked>>,
}

impl Drop for Hold {
    /// The connection went back through sqlx's pool (a release gives its hold up itself).
    fn drop(&mut self) {
        let Some(parked) = self.parked.take() else {
            return;
        };
        let mut state = parked.lock();
        state.unhold(self.user);
        // A request of this user waiting for exactly this is lent a parked connection, or
        // one taken from sqlx's pool (where this one went) on its behalf.
        let waits = self.user.is_some()
            && state
                .waiters
                .iter()
                .any(|w| w.user == self.user && !w.tx.is_closed());
        if waits
            && state.conns.is_empty()
            && !state.closed
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            drop(state);
            let parked = parked.clone();
            runtime.spawn(async move {
                if let Ok(conn) = parked.pool.acquire().await {
                    let now = Instant::now();
                    parked.put(
                        ParkedConn {
                            conn,
                            taken_at: now,
                            parked_at: now,
                        },
                        None,
                    );
                }
            });
        } else {
            parked.dispatch(state);
        }
    }
}

impl Conn {
    /// Parks the connection: call it only when every statement sent on it was read to the
    /// end (it succeeded, or failed with a database error after which PostgreSQL is ready).
    pub fn release(self) {
        let Self {
            conn,
            taken_at,
            mut hold,
        } = self;
        if taken_at.elapsed() >= REFRESH_AFTER {
            return; // dropped: back to sqlx's pool, which applies its lifetime limit
        }
        let Some(parked) = hold.parked.take() else {
            return;
        };
        parked.put(
            ParkedConn {
                conn,
                taken_at,
                parked_at: Instant::now(),
            },
            hold.user,
        );
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
