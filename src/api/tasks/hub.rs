//! The open event streams of this instance, and the connection that tells them when to
//! read: it LISTENs on `task_changed` (a user's tasks changed, on any instance or in psql)
//! and `session_changed` (a session was revoked or deleted).
//!
//! The listener runs only while a stream is open: an instance without streams holds no
//! connection for it and sends nothing. A stream opens only once the listener is
//! subscribed, and reads its first answer after that, so any change its first read did not
//! see commits after the subscription and is announced. When the connection is lost, the
//! listener subscribes again (after a pause that grows while it fails), then wakes every
//! stream: each reads what changed since its own position and checks its session, so a
//! change made while nobody listened is sent late, never skipped.
//!
//! Writers announce changes only while the lease in `task_change_listening` is in force
//! (announcing makes every commit queue for a database-wide lock). The listener, once it
//! has LISTENed and before it says it listens, sets the lease (`task_change_listen()`), so
//! every stream's first read comes after the lease: a change that read does not see is
//! announced. While streams stay open it renews the lease when less than
//! [`RENEW_WHEN_LEFT`] remains: one statement per half hour, none while no stream is open.
//! When a renewal fails every stream ends (`resync`) before the lease could lapse under it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    db::{
        changes::{self, Snapshot, Touched},
        sessions,
    },
    domain::ids::{TaskId, UserId},
};

/// The first pause before subscribing again after the connection was lost; it doubles
/// while subscribing fails, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// The lease is renewed when less than this is left of it (it is set for an hour).
const RENEW_WHEN_LEFT: Duration = Duration::from_secs(30 * 60);
/// The shortest wait before a renewal, whatever the lease said.
const MIN_RENEW_IN: Duration = Duration::from_secs(60);

/// Why a stream may not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The user has as many streams open as allowed (this many).
    UserFull(usize),
    /// The instance has as many streams open as allowed.
    InstanceFull,
    /// Changes cannot be heard (no listener connection).
    Deaf,
}

/// What one read of a user's changes found: the touched tasks, the position after them
/// (the snapshot of the read's first page), and where the read continues when they did not
/// fit one page. `None`: the changes since are no longer all kept.
pub type Found = Option<Batch>;

#[derive(Debug, Clone)]
pub struct Batch {
    pub touched: Vec<Touched>,
    pub first: Snapshot,
    pub more: Option<TaskId>,
}

/// A user's latest read, shared by their streams at the same position (`key`). It began
/// when the user's counter was at `tasks` and the global one at `all`: a stream woken at
/// counters no further than those may take its answer, since every change announced by
/// then had committed before the read began.
pub struct LastRead {
    pub key: String,
    pub tasks: u64,
    pub all: u64,
    pub found: Found,
}

/// Counters a stream watches: each `changed` is a reason to read again.
pub struct Wakers {
    /// This user's tasks changed.
    pub tasks: watch::Receiver<u64>,
    /// This stream's session changed.
    pub session: watch::Receiver<u64>,
    /// Anything may have changed (the listener subscribed again, or the table was emptied).
    pub all: watch::Receiver<u64>,
    /// The server is shutting down: streams end (clients reconnect elsewhere).
    pub closing: watch::Receiver<bool>,
    /// The lease could not be renewed: streams end (clients reconnect and catch up).
    pub lapsed: watch::Receiver<u64>,
    /// The user's latest read; its lock makes streams at one position read once.
    pub last_read: Arc<tokio::sync::Mutex<Option<LastRead>>>,
}

/// A stream's place among the open ones; dropping it frees the place.
pub struct Slot {
    hub: Hub,
    user: UserId,
    jti: Arc<str>,
}

impl Slot {
    /// The session the stream was opened with.
    pub fn jti(&self) -> &str {
        &self.jti
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.hub.close(self.user, &self.jti);
    }
}

struct Counted {
    open: usize,
    changed: watch::Sender<u64>,
    last_read: Arc<tokio::sync::Mutex<Option<LastRead>>>,
}

impl Counted {
    fn new() -> Self {
        Self {
            open: 0,
            changed: watch::Sender::new(0),
            last_read: Arc::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listening {
    Off,
    Subscribing,
    On,
}

struct State {
    streams: usize,
    users: HashMap<UserId, Counted>,
    sessions: HashMap<Arc<str>, Counted>,
    task: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    listening: watch::Sender<Listening>,
    all: watch::Sender<u64>,
    closing: watch::Sender<bool>,
    lapsed: watch::Sender<u64>,
    /// The direct connection to listen on; `None` when only a transaction-mode pooler is
    /// known (it does not deliver notifications): then no stream opens.
    listen_on: Option<PgConnectOptions>,
    /// Where the probe announcement is sent from.
    pool: crate::db::pool::Db,
    connect_timeout: Duration,
    max_streams: usize,
    max_per_user: usize,
}

#[derive(Clone)]
pub struct Hub(Arc<Shared>);

impl Hub {
    pub fn new(
        listen_on: Option<PgConnectOptions>,
        pool: crate::db::pool::Db,
        connect_timeout: Duration,
        max_streams: usize,
        max_per_user: usize,
    ) -> Self {
        Self(Arc::new(Shared {
            state: Mutex::new(State {
                streams: 0,
                users: HashMap::new(),
                sessions: HashMap::new(),
                task: None,
            }),
            listening: watch::Sender::new(Listening::Off),
            all: watch::Sender::new(0),
            closing: watch::Sender::new(false),
            lapsed: watch::Sender::new(0),
            listen_on,
            pool,
            connect_timeout,
            max_streams,
            max_per_user,
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many streams are open on this instance.
    pub fn open_streams(&self) -> usize {
        self.state().streams
    }

    /// Takes a place for a stream of `user` under session `jti`, waiting (at most the
    /// connect timeout) until the listener is subscribed. The wakers are armed before this
    /// returns: whatever is announced from now on wakes the stream.
    pub async fn open(&self, user: UserId, jti: &str) -> Result<(Slot, Wakers), Refused> {
        if self.0.listen_on.is_none() {
            return Err(Refused::Deaf);
        }
        let jti: Arc<str> = jti.into();
        {
            let mut state = self.state();
            if state.streams >= self.0.max_streams || *self.0.closing.borrow() {
                return Err(Refused::InstanceFull);
            }
            let user_open = state.users.get(&user).map_or(0, |c| c.open);
            if user_open >= self.0.max_per_user {
                return Err(Refused::UserFull(self.0.max_per_user));
            }
            state.streams += 1;
            state.users.entry(user).or_insert_with(Counted::new).open += 1;
            state
                .sessions
                .entry(jti.clone())
                .or_insert_with(Counted::new)
                .open += 1;
            if state.task.is_none() {
                self.0.listening.send_replace(Listening::Subscribing);
                state.task = Some(tokio::spawn(self.clone().listen()));
            }
        }
        let slot = Slot {
            hub: self.clone(),
            user,
            jti: jti.clone(),
        };
        let mut listening = self.0.listening.subscribe();
        let on = tokio::time::timeout(
            self.0.connect_timeout,
            listening.wait_for(|l| *l == Listening::On),
        )
        .await;
        if !matches!(on, Ok(Ok(_))) {
            return Err(Refused::Deaf);
        }
        let state = self.state();
        let wakers = Wakers {
            tasks: state.users[&user].changed.subscribe(),
            session: state.sessions[&jti].changed.subscribe(),
            all: self.0.all.subscribe(),
            closing: self.0.closing.subscribe(),
            lapsed: self.0.lapsed.subscribe(),
            last_read: state.users[&user].last_read.clone(),
        };
        drop(state);
        Ok((slot, wakers))
    }

    /// Ends every stream (at shutdown, so that the server is not kept waiting for them)
    /// and refuses new ones.
    pub fn close_all(&self) {
        self.0.closing.send_replace(true);
    }

    fn close(&self, user: UserId, jti: &Arc<str>) {
        let mut state = self.state();
        state.streams = state.streams.saturating_sub(1);
        for_key(&mut state.users, &user);
        for_key(&mut state.sessions, jti);
        if state.streams == 0
            && let Some(task) = state.task.take()
        {
            // Nobody to tell: the connection goes, and nothing is sent until a stream opens.
            task.abort();
            self.0.listening.send_replace(Listening::Off);
        }
    }

    /// PostgreSQL announced a change to `user`'s tasks (`None`: anyone's).
    fn tasks_changed(&self, user: Option<UserId>) {
        match user {
            Some(user) => {
                if let Some(c) = self.state().users.get(&user) {
                    c.changed.send_modify(|n| *n += 1);
                }
            }
            None => self.0.all.send_modify(|n| *n += 1),
        }
    }

    fn session_changed(&self, jti: &str) {
        if let Some(c) = self.state().sessions.get(jti) {
            c.changed.send_modify(|n| *n += 1);
        }
    }

    async fn listen(self) {
        let mut pause = FIRST_PAUSE;
        loop {
            match self.subscribe().await {
                Ok((mut listener, left)) => {
                    pause = FIRST_PAUSE;
                    self.0.listening.send_replace(Listening::On);
                    // Whatever was announced while nobody listened: every stream reads again.
                    self.0.all.send_modify(|n| *n += 1);
                    tracing::debug!("listening for task changes for event streams");
                    let hear = async {
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(note)) if note.channel() == sessions::CHANGES_CHANNEL => {
                                    self.session_changed(note.payload());
                                }
                                Ok(Some(note)) => {
                                    self.tasks_changed(note.payload().parse().ok().map(UserId))
                                }
                                Ok(None) => break "connection lost".to_owned(),
                                Err(e) => break e.to_string(),
                            }
                        }
                    };
                    let why = tokio::select! {
                        why = hear => why,
                        why = self.keep_lease(left) => {
                            // The lease may lapse: changes would no longer be announced.
                            self.0.lapsed.send_modify(|n| *n += 1);
                            why
                        }
                    };
                    tracing::info!(reason = %why, "stopped listening for task changes; listening again");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for task changes; trying again");
                }
            }
            self.0.listening.send_replace(Listening::Subscribing);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Renews the lease while the listener runs (that is, while streams are open), each
    /// time less than [`RENEW_WHEN_LEFT`] of it is left; returns why a renewal failed.
    async fn keep_lease(&self, mut left: Duration) -> String {
        loop {
            let renew_in = left.saturating_sub(RENEW_WHEN_LEFT).max(MIN_RENEW_IN);
            tokio::time::sleep(renew_in).await;
            let renewed = tokio::time::timeout(
                self.0.connect_timeout,
                sqlx::query_scalar::<_, f64>(LEASE).fetch_one(&self.0.pool),
            )
            .await;
            match renewed {
                Ok(Ok(secs)) => left = lease_left(secs),
                Ok(Err(e)) => return format!("cannot renew the listening lease: {e}"),
                Err(_) => return "cannot renew the listening lease: timed out".to_owned(),
            }
        }
    }

    /// Subscribes to both channels on a connection of its own, sets the lease, then proves
    /// that announcements arrive: one sent from the application's pool (with the lease)
    /// must be heard within the connect timeout. Answers with the listener and how long the
    /// lease has left.
    async fn subscribe(&self) -> Result<(PgListener, Duration), String> {
        let Some(options) = &self.0.listen_on else {
            return Err("no direct connection to listen on".to_owned());
        };
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(self.0.connect_timeout)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(
                options
                    .clone()
                    .application_name("todo-api event streams listener"),
            );
        let mut listener = PgListener::connect_with(&pool)
            .await
            .map_err(|e| e.to_string())?;
        listener.ignore_pool_close_event(true);
        listener.eager_reconnect(false);
        listener
            .listen_all([changes::CHANNEL, sessions::CHANGES_CHANNEL])
            .await
            .map_err(|e| e.to_string())?;
        let secs: f64 = sqlx::query_scalar(LEASE_AND_PROBE)
            .bind(changes::CHANNEL)
            .fetch_one(&self.0.pool)
            .await
            .map_err(|e| e.to_string())?;
        sessions::hear_probe(&mut listener, changes::CHANNEL, self.0.connect_timeout).await?;
        Ok((listener, lease_left(secs)))
    }
}

/// Sets or renews the lease; answers with the seconds it has left.
const LEASE: &str = "SELECT extract(epoch FROM task_change_listen() - now())::float8";
/// [`LEASE`], and the probe announcement (sent at its commit, after the lease).
const LEASE_AND_PROBE: &str = "SELECT extract(epoch FROM task_change_listen() - now())::float8 \
                               FROM pg_notify($1, '')";

fn lease_left(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)
}

/// One stream fewer under `key`; the entry goes with its last stream.
fn for_key<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Counted>, key: &K) {
    if let Some(c) = map.get_mut(key) {
        c.open = c.open.saturating_sub(1);
        if c.open == 0 {
            map.remove(key);
        }
    }
}
