//! Health probes, request ids, and problem+json for requests that match no operation.

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};

use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn liveness_is_ok() {
    let app = TestApp::spawn().await;
    let response = app.get("/health/live").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn readiness_reports_database_pool_and_schema() {
    let app = TestApp::spawn().await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
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
    let mut admin = sqlx::PgConnection::connect(&crate::helpers::admin_url())
        .await
        .unwrap();
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

    let response = app.get("/health/ready?probe=live").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"]["reachable"], false);
    assert_eq!(body["schema"]["ok"], false);
    assert!(!body["schema"]["problems"].as_array().unwrap().is_empty());

    // Once the database is back, the same server is ready again without a restart (live
    // probes run at most once per second).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS true"#
        )))
        .await
        .unwrap();
    let response = app.get("/health/ready?probe=live").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn readiness_answers_within_its_bound_when_the_database_hangs() {
    let app = TestApp::spawn().await;
    // An exclusive lock on the migrations table makes the live probe wait indefinitely.
    let mut locker = app.db.connect().await;
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE _sqlx_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    let response = app.get("/health/ready?probe=live").await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 503);
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
async fn unknown_paths_and_methods_get_problem_json() {
    let app = TestApp::spawn().await;
    let body = problem(app.get("/no/such/path").await, 404).await;
    assert_eq!(body["type"], "/problems/not-found");
    let response = app
        .client
        .delete(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    problem(response, 405).await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let generated = app.get("/health/live").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "{id}");
    // A request id that could forge log lines is replaced.
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "a b")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "a b");
}

#[tokio::test]
async fn docs_and_both_spec_formats_are_served() {
    let app = TestApp::spawn().await;
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let json: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(
        json,
        serde_json::from_str::<serde_json::Value>(&todo_api::api::spec_json()).unwrap()
    );
    let yaml = app.get("/openapi.yaml").await.text().await.unwrap();
    assert!(yaml.contains("/health/ready"));
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    let mut app = TestApp::spawn().await;
    let mut locker = app.db.connect().await;
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE _sqlx_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let client = app.client.clone();
    let url = app.url("/health/ready");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.begin_stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    locker.execute("ROLLBACK").await.unwrap();
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    let server = app.take_server();
    server.await.unwrap().unwrap();
    // After shutdown, nothing listens any more.
    assert!(
        app.client
            .get(app.url("/health/live"))
            .send()
            .await
            .is_err()
    );
}
