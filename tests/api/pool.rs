//! The application's pool (`db::pool`): a connection whose statements ended goes back as
//! it is; one left mid-statement is closed; a suspect one is pinged and, dead, replaced.

use std::{sync::Arc, time::Duration};

use sqlx::{Executor, PgConnection};
use todo_api::db::{
    liveness::{Liveness, TRUST_IDLE_FOR},
    pool::Db,
};

use crate::helpers::{TestDb, wait_until};

/// Bounds a failing wait; a passing test never waits for it.
const PATIENCE: Duration = Duration::from_secs(20);

async fn backend_of(db: &Db) -> i32 {
    let mut conn = db.acquire().await.unwrap();
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

async fn waits_on_a_lock(observer: &mut PgConnection, pid: i32) -> bool {
    sqlx::query_scalar("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1")
        .bind(pid)
        .fetch_optional(observer)
        .await
        .unwrap()
        .flatten()
        .unwrap_or(false)
}

async fn backend_gone(observer: &mut PgConnection, pid: i32) -> bool {
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
        .bind(pid)
        .fetch_one(observer)
        .await
        .unwrap();
    rows == 0
}

async fn terminate(observer: &mut PgConnection, pid: i32) {
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut *observer)
        .await
        .unwrap();
    wait_until("the terminated backend to end", PATIENCE, async || {
        backend_gone(observer, pid).await
    })
    .await;
}

#[tokio::test]
async fn a_connection_whose_statements_ended_is_handed_out_again_even_after_an_sql_error() {
    let test_db = TestDb::create().await;
    let db = test_db.app_pool(1, Arc::default());
    let first = backend_of(&db).await;
    {
        let mut conn = db.acquire().await.unwrap();
        let err = sqlx::query("SELECT 1 / 0")
            .execute(&mut *conn)
            .await
            .unwrap_err();
        assert!(err.as_database_error().is_some(), "{err}");
    }
    assert_eq!(backend_of(&db).await, first);
    assert_eq!(db.size(), 1);
}

#[tokio::test]
async fn a_connection_dropped_mid_statement_is_closed_not_handed_out_again() {
    let test_db = TestDb::create().await;
    let db = test_db.app_pool(1, Arc::default());
    let mut observer = test_db.connect().await;
    observer
        .execute("SELECT pg_advisory_lock(42)")
        .await
        .unwrap();
    let mut conn = db.acquire().await.unwrap();
    let stuck: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    {
        let blocked = sqlx::query("SELECT pg_advisory_lock(42)").execute(&mut *conn);
        tokio::pin!(blocked);
        let waiting = wait_until("the statement to wait on the lock", PATIENCE, async || {
            waits_on_a_lock(&mut observer, stuck).await
        });
        tokio::select! {
            _ = &mut blocked => panic!("the statement ended while the lock was held"),
            () = waiting => {}
        }
    } // the request gives up: its statement is dropped in flight
    drop(conn);

    // Handed out again, the connection would first wait for the blocked statement's end.
    let next = tokio::time::timeout(PATIENCE, backend_of(&db))
        .await
        .expect("the next connection was stuck behind the abandoned statement");
    assert_ne!(
        next, stuck,
        "the connection left mid-statement was handed out again"
    );
    // A backend waiting on a lock notices its closed socket once it has the lock.
    observer
        .execute("SELECT pg_advisory_unlock(42)")
        .await
        .unwrap();
    wait_until(
        "the abandoned connection's backend to end",
        PATIENCE,
        async || backend_gone(&mut observer, stuck).await,
    )
    .await;
    assert_eq!(db.size(), 1);
}

#[tokio::test]
async fn a_transaction_dropped_uncommitted_is_rolled_back_and_its_connection_kept() {
    let test_db = TestDb::create().await;
    let db = test_db.app_pool(1, Arc::default());
    (&db)
        .execute("CREATE TABLE note (body text)")
        .await
        .unwrap();
    let first = {
        let mut conn = db.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO note VALUES ('dropped')")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    {
        let mut conn = db.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO note VALUES ('committed')")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let (pid, notes): (i32, Vec<String>) = sqlx::query_as(
        "SELECT pg_backend_pid(), (SELECT coalesce(array_agg(body), '{}') FROM note)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(pid, first);
    assert_eq!(notes, ["committed"]);
}

/// A pool of one connection whose backend was terminated while it sat idle, with its
/// liveness, and the dead backend's pid.
async fn a_pool_whose_connection_died(test_db: &TestDb) -> (Db, Arc<Liveness>, i32) {
    let liveness = Arc::new(Liveness::default());
    let db = test_db.app_pool(1, liveness.clone());
    let dead = backend_of(&db).await;
    terminate(&mut test_db.connect().await, dead).await;
    (db, liveness, dead)
}

#[tokio::test]
async fn after_a_loss_a_dead_idle_connection_is_pinged_and_replaced() {
    let test_db = TestDb::create().await;
    let (db, liveness, dead) = a_pool_whose_connection_died(&test_db).await;
    // What a request that met a lost connection records: its siblings are suspect now.
    liveness.lost();
    assert_ne!(backend_of(&db).await, dead);
    assert_eq!(db.size(), 1);
}

#[tokio::test]
async fn a_connection_idle_past_the_trust_window_is_pinged_and_replaced_when_dead() {
    let test_db = TestDb::create().await;
    let (db, liveness, dead) = a_pool_whose_connection_died(&test_db).await;
    // Not an ordering: the claim is about a connection that has been idle this long.
    tokio::time::sleep(TRUST_IDLE_FOR).await;
    assert!(!liveness.suspicious());
    assert_ne!(backend_of(&db).await, dead);
    assert!(
        liveness.suspicious(),
        "the dead connection was not recorded"
    );
}

#[tokio::test]
async fn with_every_connection_in_use_an_acquire_gives_up_with_pool_timed_out() {
    let test_db = TestDb::create().await;
    let db = todo_api::db::connect::pool(
        1,
        Duration::from_millis(100),
        test_db.url.parse().unwrap(),
        Arc::default(),
        Arc::new(|| {}),
    )
    .unwrap();
    let held = db.acquire().await.unwrap();
    let err = db.acquire().await.err().unwrap();
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err}");
    drop(held);
    db.acquire().await.unwrap();
}
