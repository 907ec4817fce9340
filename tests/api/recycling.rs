//! Clean connections go from one request to the next without sqlx's release ping; a
//! connection left mid-statement goes back through sqlx's pool, which repairs or closes it.

use std::time::Duration;

use todo_api::db::recycle::Db;

use crate::helpers::TestApp;

async fn backend_pid(db: &Db) -> (i32, todo_api::db::recycle::Conn) {
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
