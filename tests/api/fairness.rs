//! What one account, or a few, can take from everyone else: each user's share of the
//! database (keyed on the verified token's user, whatever the path says) and the bulkhead
//! that searches and counts run in. Slow statements come from a lock the test holds on a
//! table, so each test knows when the attack has reached the database.

use std::{net::SocketAddr, time::Duration};

use reqwest::Method;
use sqlx::{Connection, Executor, PgConnection};

use crate::{
    helpers::{TestApp, User, lock_waiters, wait_until},
    metrics::{app_with_metrics, scrape, value},
};

/// A pool of 4: one connection per user, one for searches.
const SMALL_POOL: &[(&str, &str)] = &[("DB_MAX_CONNECTIONS", "4"), ("DB_CONNECT_TIMEOUT", "5s")];

/// `LOCK TABLE` held in a transaction of its own until released.
struct Lock(PgConnection);

impl Lock {
    async fn take(app: &TestApp, table: &str) -> Self {
        let mut conn = app.db.connect().await;
        conn.execute("BEGIN").await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
        )))
        .await
        .unwrap();
        Self(conn)
    }

    async fn release(mut self) {
        self.0.execute("ROLLBACK").await.unwrap();
        self.0.close().await.unwrap();
    }
}

/// How many of the server's statements wait for a lock.
async fn waiting_on_locks(app: &TestApp) -> i64 {
    lock_waiters(&app.pool).await
}

async fn share_waits(app: &TestApp, metrics: SocketAddr) -> f64 {
    value(&scrape(app, metrics).await, "user_share_waits_total").unwrap_or(0.0)
}

/// Waits until `done` holds; fails the test naming `what` after ten seconds.
async fn wait_for(what: &str, done: impl AsyncFnMut() -> bool) {
    wait_until(what, Duration::from_secs(10), done).await;
}

/// Sends `count` copies of a request at once; their statuses, once all are answered.
fn fire(
    count: usize,
    call: impl Fn() -> crate::helpers::Call,
) -> Vec<tokio::task::JoinHandle<u16>> {
    (0..count)
        .map(|_| {
            let call = call();
            tokio::spawn(async move { call.send().await.status() })
        })
        .collect()
}

async fn statuses(requests: Vec<tokio::task::JoinHandle<u16>>) -> Vec<u16> {
    let mut all = Vec::new();
    for request in requests {
        all.push(request.await.unwrap());
    }
    all
}

/// `/api/{id}/tasks` with every digit of the id percent-encoded.
fn encoded_tasks_path(user: &User) -> String {
    let id: String = user
        .id
        .to_string()
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    format!("/api/{id}/tasks")
}

#[tokio::test]
async fn one_users_requests_hold_at_most_their_share_while_others_are_served() {
    let (app, metrics) = app_with_metrics(SMALL_POOL).await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    bob.me().expect(200).await;
    let lock = Lock::take(&app, "task").await;

    let stuck = fire(8, || alice.list_tasks());
    wait_for(
        "one of alice's lists waits on the lock, seven on her share",
        async || waiting_on_locks(&app).await == 1 && share_waits(&app, metrics).await == 7.0,
    )
    .await;
    bob.me().expect(200).await;
    assert_eq!(
        waiting_on_locks(&app).await,
        1,
        "alice held more than her share"
    );

    lock.release().await;
    // Each waiting list got her share as the one before it finished.
    assert_eq!(statuses(stuck).await, vec![200; 8]);
}

#[tokio::test]
async fn searches_sent_to_a_percent_encoded_path_spend_their_own_users_share() {
    let (app, metrics) = app_with_metrics(SMALL_POOL).await;
    let mallory = app.sign_up("mallory").await;
    let bob = app.sign_up("bob").await;
    bob.me().expect(200).await;
    let path = encoded_tasks_path(&mallory);
    mallory.call(Method::GET, &path).expect(200).await;
    let lock = Lock::take(&app, "task").await;

    let attack = fire(30, || mallory.call(Method::GET, &path).query("q=zzz"));
    wait_for("29 of mallory's searches wait for her share", async || {
        waiting_on_locks(&app).await == 1 && share_waits(&app, metrics).await == 29.0
    })
    .await;
    bob.me().expect(200).await;
    assert_eq!(waiting_on_locks(&app).await, 1);

    lock.release().await;
    assert!(
        statuses(attack)
            .await
            .iter()
            .all(|s| [200, 503].contains(s))
    );
}

#[tokio::test]
async fn a_revoked_token_sent_to_another_users_path_does_not_wait_for_that_users_share() {
    let (app, _metrics) = app_with_metrics(SMALL_POOL).await;
    let mallory = app.sign_up("mallory").await;
    let bob = app.sign_up("bob").await;
    mallory.logout().expect(204).await;
    let lock = Lock::take(&app, "task").await;
    // Bob's one list holds his whole share while the lock stands.
    let bobs = fire(1, || bob.list_tasks());
    wait_for("bob's list waits on the lock", async || {
        waiting_on_locks(&app).await == 1
    })
    .await;

    // Mallory's revoked token on Bob's path is checked in Mallory's share: each is refused
    // while Bob's list still holds his.
    let on_bobs_path = mallory.on_urls_of(bob.id);
    let flood = statuses(fire(20, || on_bobs_path.list_tasks())).await;
    assert_eq!(flood, vec![401; 20]);
    assert_eq!(waiting_on_locks(&app).await, 1);

    lock.release().await;
    assert_eq!(statuses(bobs).await, vec![200]);
}

#[tokio::test]
async fn many_accounts_searching_at_once_cannot_take_the_pool() {
    let (app, metrics) = app_with_metrics(SMALL_POOL).await;
    let bob = app.sign_up("bob").await;
    bob.me().expect(200).await;
    let mut accounts = Vec::new();
    for n in 0..5 {
        accounts.push(app.sign_up(&format!("mallory{n}")).await);
    }
    let lock = Lock::take(&app, "task").await;

    let attack: Vec<_> = accounts
        .iter()
        .flat_map(|account| fire(6, || account.list_tasks().query("q=zzz")))
        .collect();
    wait_for(
        "one search per account at the database, the rest waiting",
        async || waiting_on_locks(&app).await == 1 && share_waits(&app, metrics).await == 25.0,
    )
    .await;
    // Five accounts hold a share each, more than the pool's four connections: only the
    // bulkhead's one connection is spent on their searches.
    bob.me().expect(200).await;
    assert_eq!(
        waiting_on_locks(&app).await,
        1,
        "searches outgrew their bulkhead"
    );

    lock.release().await;
    assert!(
        statuses(attack)
            .await
            .iter()
            .all(|s| [200, 503].contains(s))
    );
}

#[tokio::test]
async fn a_search_past_the_bulkhead_is_a_503_that_says_so() {
    let (app, _metrics) = app_with_metrics(&[
        ("DB_MAX_CONNECTIONS", "4"),
        ("DB_MAX_CONNECTIONS_PER_USER", "2"),
        ("DB_SEARCH_CONNECTIONS", "1"),
        ("DB_CONNECT_TIMEOUT", "1s"),
    ])
    .await;
    let alice = app.sign_up("alice").await;
    let lock = Lock::take(&app, "task").await;
    let first = fire(1, || alice.list_tasks().query("q=milk"));
    wait_for("the first search waits on the lock", async || {
        waiting_on_locks(&app).await == 1
    })
    .await;

    let reply = alice.list_tasks().query("q=bread").send().await;
    assert!(reply.header("retry-after").is_some());
    let problem = reply.assert_problem(503);
    assert!(problem.detail.contains("searches"), "{}", problem.detail);
    // Lists without a search do not use the bulkhead: this one waits for the lock only.
    let plain = fire(1, || alice.list_tasks());

    lock.release().await;
    assert_eq!(statuses(first).await, vec![200]);
    assert_eq!(statuses(plain).await, vec![200]);
}

#[tokio::test]
async fn searches_are_cut_short_by_their_own_statement_timeout() {
    let (app, _metrics) = app_with_metrics(&[("DB_SEARCH_STATEMENT_TIMEOUT", "200ms")]).await;
    let alice = app.sign_up("alice").await;
    let lock = Lock::take(&app, "task").await;

    let problem = alice
        .list_tasks()
        .header("prefer", "count=exact")
        .send()
        .await
        .assert_problem(503);
    assert!(problem.detail.contains("longer than"), "{}", problem.detail);
    let search = alice.list_tasks().query("q=milk").send().await;
    search.assert_problem(503);

    lock.release().await;
    alice.list_tasks().query("q=milk").expect(200).await;
}
