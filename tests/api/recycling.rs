//! Clean connections go from one request to the next without sqlx's release ping; a
//! connection left mid-statement goes back through sqlx's pool, which repairs or closes it.

use std::time::Duration;

use todo_api::db::{
    recycle::{Conn, Db, for_user},
    refusal::Refusal,
};

use crate::helpers::TestApp;

async fn backend_pid(db: &Db) -> (i32, Conn) {
    let mut conn = db.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    (pid, conn)
}

#[tokio::test]
async fn a_released_connection_is_lent_to_the_next_request_as_it_is() {
    let app = TestApp::spawn().await;
    let db = Db::new(app.pool.clone());
    let (first, conn) = backend_pid(&db).await;
    assert_eq!(db.idle(), 0);
    conn.release();
    assert_eq!(db.idle(), 1, "parked, and counted as idle");
    let (second, conn) = backend_pid(&db).await;
    assert_eq!(second, first, "the parked connection was lent again");
    assert_eq!(db.idle(), 0);
    conn.release();
}

#[tokio::test]
async fn a_statement_sent_to_the_db_releases_its_connection_once_read() {
    let app = TestApp::spawn().await;
    let db = Db::new(app.pool.clone());
    let n: i64 = sqlx::query_scalar("SELECT 41 + 1::bigint")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(n, 42);
    assert_eq!(db.idle(), 1, "the statement's connection is parked");
    let failed = sqlx::query("SELECT 1/0").execute(&db).await;
    assert!(failed.is_err());
    // The failed statement's connection went back through sqlx's pool, which lends it again.
    let n: i32 = sqlx::query_scalar("SELECT 5").fetch_one(&db).await.unwrap();
    assert_eq!(n, 5);
}

#[tokio::test]
async fn a_connection_dropped_mid_statement_is_not_parked_and_the_next_one_answers_right() {
    let app = TestApp::spawn().await;
    let db = Db::new(app.pool.clone());
    let (pid, mut conn) = backend_pid(&db).await;
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        sqlx::query("SELECT pg_sleep(2)").execute(&mut *conn),
    )
    .await;
    assert!(cut.is_err(), "the statement was cut off");
    drop(conn);
    assert_eq!(
        db.idle(),
        0,
        "a connection left mid-statement is never parked"
    );
    let (_, mut next) = backend_pid(&db).await;
    let answer: i32 = sqlx::query_scalar("SELECT 7")
        .fetch_one(&mut *next)
        .await
        .unwrap();
    assert_eq!(answer, 7);
    next.release();
    let (again, conn) = backend_pid(&db).await;
    assert!(
        again == pid || db.idle() == 0,
        "a clean connection is reused"
    );
    conn.release();
}

#[tokio::test]
async fn requests_waiting_for_a_full_pool_get_released_connections_in_turn() {
    let app = TestApp::spawn().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&app.db.url)
        .await
        .unwrap();
    let db = Db::new(pool);
    let (pid, held) = backend_pid(&db).await;
    let waiters: Vec<_> = (0..5)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut conn = db.acquire().await.unwrap();
                let (n, p): (i32, i32) = sqlx::query_as("SELECT $1, pg_backend_pid()")
                    .bind(i)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                conn.release();
                (n, p)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    held.release();
    for (i, waiter) in waiters.into_iter().enumerate() {
        let (n, p) = waiter.await.unwrap();
        assert_eq!(n, i as i32);
        assert_eq!(
            p, pid,
            "the one connection was handed from request to request"
        );
    }
}

#[tokio::test]
async fn a_connection_released_after_close_is_closed_so_closing_finishes() {
    let app = TestApp::spawn().await;
    let db = Db::new(app.pool.clone());
    let (_, late) = backend_pid(&db).await;
    let closing = tokio::spawn({
        let db = db.clone();
        async move { db.close().await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    late.release();
    tokio::time::timeout(Duration::from_secs(10), closing)
        .await
        .expect("the pool closes once the late connection is released")
        .unwrap();
    assert_eq!(db.idle(), 0);
}

/// A pool of `size` whose users may each hold `share` of its connections.
async fn shared_pool(app: &TestApp, size: u32, share: u32, wait: Duration) -> Db {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(wait)
        .connect(&app.db.url)
        .await
        .unwrap();
    Db::new(pool).with_user_share(share)
}

/// Takes a connection as one of `user`'s requests.
async fn take_as(db: &Db, user: i64) -> Result<Conn, sqlx::Error> {
    for_user(user, db.acquire()).await
}

/// One of `user`'s requests, taking a connection and releasing it, given 100 ms to start.
async fn waiting_as(db: &Db, user: i64) -> tokio::task::JoinHandle<Result<(), sqlx::Error>> {
    let request = tokio::spawn({
        let db = db.clone();
        async move { take_as(&db, user).await.map(|c| c.release()) }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    request
}

#[tokio::test]
async fn a_user_holding_their_share_waits_while_others_are_lent_connections() {
    let app = TestApp::spawn().await;
    let db = shared_pool(&app, 3, 1, Duration::from_secs(5)).await;
    let alice = take_as(&db, 1).await.unwrap();
    let mut second = waiting_as(&db, 1).await;
    assert!(
        !second.is_finished(),
        "alice's second request waits although the pool has room"
    );
    let bob = take_as(&db, 2).await.unwrap();
    bob.release();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !second.is_finished(),
        "bob's released connection passed alice over"
    );
    assert_eq!(db.idle(), 1, "bob's connection is parked for someone else");
    // Work outside any user's request is not held to a share.
    let n: i32 = sqlx::query_scalar("SELECT 3").fetch_one(&db).await.unwrap();
    assert_eq!(n, 3);
    alice.release();
    tokio::time::timeout(Duration::from_secs(2), &mut second)
        .await
        .expect("alice's own released connection goes to her waiting request")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_request_past_its_users_share_leaves_a_parked_connection_parked() {
    let app = TestApp::spawn().await;
    let db = shared_pool(&app, 3, 1, Duration::from_secs(5)).await;
    let alice = take_as(&db, 1).await.unwrap();
    let (bobs, bob) = for_user(2, backend_pid(&db)).await;
    bob.release();
    assert_eq!(db.idle(), 1);
    // Alice's second request comes after bob's connection was parked, past her share.
    let second = waiting_as(&db, 1).await;
    assert!(!second.is_finished(), "past her share, she waits");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        (db.idle(), db.pool().num_idle()),
        (1, 0),
        "bob's connection is still parked, not sent back through sqlx's pool and its ping"
    );
    let (again, carol) = for_user(3, backend_pid(&db)).await;
    assert_eq!(again, bobs, "the next user is lent the parked connection");
    carol.release();
    alice.release();
    tokio::time::timeout(Duration::from_secs(2), second)
        .await
        .expect("alice's own released connection goes to her waiting request")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_request_waiting_on_its_users_share_is_served_when_a_connection_of_theirs_is_dropped() {
    let app = TestApp::spawn().await;
    let db = shared_pool(&app, 2, 1, Duration::from_secs(5)).await;
    let alice = take_as(&db, 1).await.unwrap();
    let second = waiting_as(&db, 1).await;
    assert!(!second.is_finished());
    // Not released: back through sqlx's pool, with nothing parked to hand over.
    assert_eq!(db.idle(), 0);
    drop(alice);
    tokio::time::timeout(Duration::from_secs(2), second)
        .await
        .expect("the waiting request is lent a connection from sqlx's pool")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_request_past_its_users_share_for_the_whole_wait_is_a_user_share_refusal() {
    let app = TestApp::spawn().await;
    let db = shared_pool(&app, 4, 2, Duration::from_millis(300)).await;
    let held = [
        take_as(&db, 1).await.unwrap(),
        take_as(&db, 1).await.unwrap(),
    ];
    let err = take_as(&db, 1)
        .await
        .err()
        .expect("the third waits, then gives up");
    assert_eq!(Refusal::classify(&err), Some(Refusal::UserShare), "{err}");
    let other = take_as(&db, 2)
        .await
        .expect("another user is lent one at once");
    other.release();
    for conn in held {
        conn.release();
    }
    take_as(&db, 1).await.unwrap().release();
}

#[tokio::test]
async fn a_request_that_stops_waiting_after_a_connection_was_handed_to_it_gives_its_hold_back() {
    let app = TestApp::spawn().await;
    let db = shared_pool(&app, 2, 1, Duration::from_millis(500)).await;
    let alice = take_as(&db, 1).await.unwrap();
    // Alice's second request queues, past her share, and is handed her released connection,
    // but stops (its client went away) before it takes it.
    let mut second = Box::pin(take_as(&db, 1));
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut second)
            .await
            .is_err()
    );
    alice.release();
    drop(second);
    // The hold taken for it went with it: her next request is lent a connection.
    for _ in 0..2 {
        take_as(&db, 1)
            .await
            .expect("alice holds no connection")
            .release();
    }
}
