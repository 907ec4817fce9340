//! Health probes, request ids, and problem+json for requests that match no operation.

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};

use crate::helpers::{TestApp, admin_url, lock_waiters, wait_until};

#[tokio::test]
async fn liveness_is_ok() {
    let app = TestApp::spawn().await;
    let body = app.get("/health/live").expect(200).await.value();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn readiness_reports_database_pool_and_schema() {
    let app = TestApp::spawn().await;
    let body = app.get("/health/ready").expect(200).await.value();
    assert_eq!(body["status"], "ready");
    let db = &body["database"];
    assert_eq!(db["reachable"], true);
    assert!(db["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(
        db["server_version"]
            .as_str()
            .unwrap()
            .starts_with(char::is_numeric)
    );
    let pool = &db["pool"];
    assert_eq!(pool["max"], 10);
    let (size, idle, in_use) = (
        pool["size"].as_u64().unwrap(),
        pool["idle"].as_u64().unwrap(),
        pool["in_use"].as_u64().unwrap(),
    );
    assert!((1..=10).contains(&size) && idle + in_use == size, "{pool}");
    let schema = &body["schema"];
    assert_eq!(schema["ok"], true);
    assert_eq!(schema["version"], schema["expected_version"]);
    assert!(schema["expected_version"].as_i64().unwrap() >= 4);
    assert_eq!(schema["problems"], serde_json::json!([]));
}

#[tokio::test]
async fn readiness_is_503_when_the_database_refuses_connections() {
    let app = TestApp::spawn().await;
    let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
    let name = &app.db.name;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS false"#
        )))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .await
        .unwrap();

    let reply = app.get("/health/ready?probe=live").expect(503).await;
    assert_eq!(reply.header("retry-after"), Some("2"));
    let body = reply.value();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"]["reachable"], false);
    assert_eq!(body["schema"]["ok"], false);
    assert!(!body["schema"]["problems"].as_array().unwrap().is_empty());

    // Once the database is back, the same server is ready again without a restart (as soon
    // as its next live probe runs: at most once per second).
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS true"#
        )))
        .await
        .unwrap();
    wait_until(
        "readiness to say ready again",
        Duration::from_secs(10),
        async || {
            let status = app.get("/health/ready?probe=live").send().await.status();
            assert!(status == 200 || status == 503, "{status}");
            status == 200
        },
    )
    .await;
}

/// A connection holding an exclusive lock on the migrations table, which makes the live
/// probe wait indefinitely; `ROLLBACK` on it lets go.
async fn lock_migrations(app: &TestApp) -> sqlx::PgConnection {
    let mut locker = app.db.connect().await;
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE _sqlx_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    locker
}

#[tokio::test]
async fn readiness_answers_within_its_bound_when_the_database_hangs() {
    let app = TestApp::spawn().await;
    let mut locker = lock_migrations(&app).await;
    let started = Instant::now();
    let reply = app.get("/health/ready?probe=live").send().await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status(), 503);
    assert!(
        elapsed >= Duration::from_millis(1900),
        "answered before its bound: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "readiness hung for {elapsed:?}"
    );
    locker.execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn an_unknown_path_is_a_404_problem() {
    let app = TestApp::spawn().await;
    let problem = app.get("/no/such/path").expect_problem(404).await;
    assert_eq!(problem.kind, "/problems/not-found");
}

#[tokio::test]
async fn a_method_a_path_lacks_is_a_405_problem() {
    let app = TestApp::spawn().await;
    app.request(reqwest::Method::DELETE, "/health/live")
        .expect_problem(405)
        .await;
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_any_other_replaced_by_a_generated_one() {
    let app = TestApp::spawn().await;
    // The second cannot forge log lines.
    for sent in [Some("abc-123"), Some("a b"), None] {
        let mut call = app.get("/health/live");
        if let Some(id) = sent {
            call = call.header("x-request-id", id);
        }
        let reply = call.send().await;
        let id = reply.header("x-request-id").unwrap();
        match sent {
            Some("abc-123") => assert_eq!(id, "abc-123"),
            _ => assert!(Some(id) != sent && id.len() == 36, "{sent:?}: {id}"),
        }
    }
}

#[tokio::test]
async fn docs_and_both_spec_formats_are_served() {
    let app = TestApp::spawn().await;
    let docs = app.get("/docs").expect(200).await;
    assert!(docs.text().contains("swagger"));
    let json = app.get("/openapi.json").expect(200).await.value();
    assert_eq!(
        json,
        serde_json::from_str::<serde_json::Value>(&todo_api::api::spec_json()).unwrap()
    );
    let yaml = app.get("/openapi.yaml").expect(200).await.text();
    assert!(yaml.contains("/health/ready"));
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    let mut app = TestApp::spawn().await;
    let mut locker = lock_migrations(&app).await;
    let in_flight = tokio::spawn(app.get("/health/ready?probe=live").try_send());
    wait_until(
        "the probe to wait on the lock",
        Duration::from_secs(10),
        async || lock_waiters(&app.pool).await >= 1,
    )
    .await;
    app.begin_stop();
    // A server shutting down stops accepting first; the probe, seen waiting on the lock,
    // is still in flight then.
    let addr = app.addr;
    wait_until(
        "the server to stop accepting connections",
        Duration::from_secs(10),
        async || tokio::net::TcpStream::connect(addr).await.is_err(),
    )
    .await;
    assert!(
        !in_flight.is_finished(),
        "answered before the lock was let go"
    );
    locker.execute("ROLLBACK").await.unwrap();
    let reply = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    // Answered, and by then readiness says the server is going away.
    assert_eq!(reply.status(), 503);
    assert_eq!(reply.value()["shutting_down"], true);
    let server = app.take_server();
    server.await.unwrap().unwrap();
    // After shutdown, nothing listens any more.
    assert!(app.get("/health/live").try_send().await.is_err());
}
