//! Sessions this instance has read, kept in memory while PostgreSQL can tell it that one
//! changed, so an authenticated request costs no round trip for its session.
//!
//! The cache is trusted only while a listener connection is subscribed to
//! [`sessions::CHANGES_CHANNEL`]. When that connection is lost (Neon closes idle connections
//! when it suspends), the cache is emptied and stays cold: requests read their session from
//! the database again, and the first of them starts a new listener in the background. Nothing
//! reconnects on a timer, so an idle server lets the database sleep.
//!
//! A read from the database is remembered only if the listener was already subscribed before
//! the read began and has not been lost since: any change committed after the read's
//! snapshot is then announced to it, and an announcement marks the token `Changed` for good,
//! which a late remember never overwrites. A remembered session is read again after
//! [`MAX_AGE`], which bounds how long a listener that died unnoticed can leave a change unheard.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use sqlx::postgres::{PgConnectOptions, PgListener};
use tokio::task::JoinHandle;

use crate::db::{
    pool::Db,
    sessions::{self, SessionState},
};

/// More distinct sessions than this and the cache starts over (a few hundred bytes each).
const CAPACITY: usize = 50_000;
/// A remembered session is read again after this long, so a listener connection that died
/// without the operating system noticing (a half-open TCP connection) cannot keep a change
/// unheard for longer.
const MAX_AGE: Duration = Duration::from_secs(60);
/// After the listener failed to subscribe, requests wait this long before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
enum Entry {
    Known(SessionState, Instant),
    /// PostgreSQL announced a change: always read this session from the database.
    Changed,
}

/// What the cache knows about a token id.
#[derive(Debug, Clone)]
pub enum Lookup {
    Known(SessionState),
    /// Read the session from the database; remember it with the ticket, if there is one.
    Ask(Option<Ticket>),
}

/// Permission to remember a session read from the database, valid while the listener that
/// was subscribed when it was issued stays connected.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

#[derive(Debug, PartialEq, Eq)]
enum Listener {
    Off { failed_at: Option<Instant> },
    Connecting,
    On,
}

struct State {
    /// Changes whenever remembered sessions may have missed an announcement.
    generation: u64,
    listener: Listener,
    entries: HashMap<String, Entry>,
    task: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// The direct connection to listen on; `None` when only a transaction-mode pooler is
    /// known, which does not deliver notifications: then nothing is cached.
    listen_on: Option<PgConnectOptions>,
    /// Where the probe announcement is sent from: the application's own connections.
    pool: Db,
    connect_timeout: Duration,
}

#[derive(Clone)]
pub struct SessionCache(Arc<Shared>);

impl SessionCache {
    pub fn new(listen_on: Option<PgConnectOptions>, pool: Db, connect_timeout: Duration) -> Self {
        Self(Arc::new(Shared {
            state: Mutex::new(State {
                generation: 0,
                listener: Listener::Off { failed_at: None },
                entries: HashMap::new(),
                task: None,
            }),
            listen_on,
            pool,
            connect_timeout,
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters: the worst case is a missing entry, which means another database read.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session of `jti` if it is known and trusted; otherwise whether a database read may
    /// be remembered. A cold cache starts its listener here, in the background.
    pub fn lookup(&self, jti: &str) -> Lookup {
        let mut state = self.state();
        match state.listener {
            Listener::On => match state.entries.get(jti) {
                Some(Entry::Known(session, read_at)) if read_at.elapsed() < MAX_AGE => {
                    Lookup::Known(session.clone())
                }
                Some(Entry::Known(..)) => Lookup::Ask(Some(Ticket(state.generation))),
                Some(Entry::Changed) => Lookup::Ask(None),
                None => Lookup::Ask(Some(Ticket(state.generation))),
            },
            Listener::Connecting => Lookup::Ask(None),
            Listener::Off { failed_at } => {
                let may_retry = failed_at.is_none_or(|t| t.elapsed() >= RETRY_AFTER);
                if may_retry && let Some(options) = self.0.listen_on.clone() {
                    state.listener = Listener::Connecting;
                    let cache = self.clone();
                    state.task = Some(tokio::spawn(cache.listen(options)));
                }
                Lookup::Ask(None)
            }
        }
    }

    /// Remembers a session read from the database under `ticket`, unless the listener was
    /// lost since, or a change to it was announced meanwhile.
    pub fn remember(&self, ticket: Ticket, jti: &str, session: SessionState) {
        let mut state = self.state();
        if state.listener != Listener::On || state.generation != ticket.0 {
            return;
        }
        if state.entries.len() >= CAPACITY {
            // Starting over invalidates tickets issued before, so no read that began before
            // an announcement dropped here can be remembered after it.
            state.entries.clear();
            state.generation += 1;
            return;
        }
        let known = Entry::Known(session, Instant::now());
        match state.entries.get_mut(jti) {
            // An announced change is final: only the database answers for this token now.
            Some(Entry::Changed) => {}
            Some(entry) => *entry = known,
            None => {
                state.entries.insert(jti.to_owned(), known);
            }
        }
    }

    /// PostgreSQL announced that the session of `jti` changed (revoked, deleted, ...).
    pub fn changed(&self, jti: &str) {
        let mut state = self.state();
        if state.listener == Listener::On {
            state.entries.insert(jti.to_owned(), Entry::Changed);
        }
    }

    /// Whether the cache is trusted now (its listener is subscribed).
    pub fn is_listening(&self) -> bool {
        self.state().listener == Listener::On
    }

    /// Stops the listener, if one runs (at shutdown).
    pub fn stop(&self) {
        let mut state = self.state();
        if let Some(task) = state.task.take() {
            task.abort();
        }
        Self::go_cold(&mut state, None);
    }

    fn go_cold(state: &mut State, failed_at: Option<Instant>) {
        state.listener = Listener::Off { failed_at };
        state.entries.clear();
        state.generation += 1;
    }

    async fn listen(self, options: PgConnectOptions) {
        let mut listener = match self.subscribe(&options).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for session changes; sessions are read from the database");
                Self::go_cold(&mut self.state(), Some(Instant::now()));
                return;
            }
        };
        {
            let mut state = self.state();
            state.listener = Listener::On;
            state.generation += 1;
        }
        tracing::debug!("listening for session changes; sessions are cached");
        let why = loop {
            match listener.try_recv().await {
                Ok(Some(note)) if note.payload().is_empty() => {}
                Ok(Some(note)) => self.changed(note.payload()),
                Ok(None) => break "connection lost".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        tracing::info!(
            reason = %why,
            "stopped listening for session changes; sessions are read from the database until the next request listens again"
        );
        Self::go_cold(&mut self.state(), None);
    }

    /// Subscribes, then proves that announcements arrive: one is sent from the application's
    /// pool and must be heard within the connect timeout.
    async fn subscribe(&self, options: &PgConnectOptions) -> Result<PgListener, String> {
        let mut listener = sessions::listen_for_changes(options, self.0.connect_timeout)
            .await
            .map_err(|e| e.to_string())?;
        sessions::announce_probe(&self.0.pool)
            .await
            .map_err(|e| e.to_string())?;
        sessions::hear_probe(
            &mut listener,
            sessions::CHANGES_CHANNEL,
            self.0.connect_timeout,
        )
        .await?;
        Ok(listener)
    }
}
