//! Waiting for events rather than for time: poll what can be observed (an answer, a row,
//! `pg_stat_activity`, a log line) until it shows the event, and fail the test, naming what
//! was awaited, once a deadline passes. The deadlines are generous: they bound a failing
//! test, and a passing one never waits for them.
//!
//! `holds_for` is the one deliberate wait: a claim that something does *not* happen by
//! itself (no timer sweeps, nothing reconnects, an idle server sends nothing) is a claim
//! about a stretch of time, so it is watched for one.

use std::time::{Duration, Instant};

use sqlx::PgExecutor;

use super::client::Api;

/// The longest pause between two polls; the first ones are shorter, so that an event
/// which comes at once is seen at once.
const MAX_PAUSE: Duration = Duration::from_millis(25);

/// How long a server started as a process of its own may take to answer.
pub const STARTUP: Duration = Duration::from_secs(20);

/// Polls `check` until it yields `Some`, or until `deadline`.
async fn poll<T>(deadline: Instant, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Polls `check` until it yields a value and returns it; fails the test with `what` when
/// `within` passes first.
pub async fn wait_for<T>(what: &str, within: Duration, check: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    match poll(started + within, check).await {
        Some(value) => value,
        None => panic!("waited {within:?} for {what}"),
    }
}

/// Polls `check` until it holds; fails the test with `what` when `within` passes first.
pub async fn wait_until(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    wait_for(what, within, async || check().await.then_some(())).await;
}

/// Watches `check` for `window`, failing the test with `what` as soon as it stops holding.
pub async fn holds_for(what: &str, window: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    assert!(check().await, "{what}: not so at the start");
    let broke = poll(started + window, async || (!check().await).then_some(())).await;
    assert!(
        broke.is_none(),
        "{what}: no longer so after {:?}",
        started.elapsed()
    );
}

/// Statements on `executor`'s database that wait for a lock: requests that reached
/// PostgreSQL and are held there.
pub async fn lock_waiters<'e>(executor: impl PgExecutor<'e>) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(executor)
    .await
    .unwrap()
}

/// Waits until a server started as a process of its own, at `base`, answers
/// `/health/live`.
pub async fn until_live(base: &str) {
    let api = Api::new(base);
    wait_until("the server to answer /health/live", STARTUP, async || {
        api.get("/health/live")
            .try_send()
            .await
            .is_ok_and(|reply| reply.status() == 200)
    })
    .await;
}
