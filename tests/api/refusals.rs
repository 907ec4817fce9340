//! Every way the database refuses is a 503 with `Retry-After` and a sentence naming the
//! cause, never a 500; readiness names the cause too. A fake PostgreSQL (a gate in front of
//! the test database) refuses with each SQLSTATE; one case uses the real server.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use sqlx::{Connection, Executor};

use crate::{
    fake_pg::FakeGate,
    helpers::{Reply, TestApp, TestDb, User, admin_url, wait_for, wait_until},
};

/// A server whose database connections go through a gate, and a user of it.
pub struct Gated {
    pub app: TestApp,
    pub gate: FakeGate,
    pub alice: User,
}

pub async fn gated(overrides: &[(&str, &str)]) -> Gated {
    let (app, gate) = behind_gate(overrides).await;
    let alice = app.sign_up("alice").await;
    Gated { app, gate, alice }
}

/// A server whose database connections go through a gate, before anyone has used it.
pub async fn behind_gate(overrides: &[(&str, &str)]) -> (TestApp, FakeGate) {
    let db = TestDb::create().await;
    let real = url::Url::parse(&db.url).unwrap();
    let upstream: SocketAddr = format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let gate = FakeGate::start(upstream).await;
    let url = gate.url(&db.url);
    let mut vars = vec![("DATABASE_URL", url.as_str()), ("DB_CONNECT_TIMEOUT", "1s")];
    vars.extend_from_slice(overrides);
    let app = TestApp::build(&db, &vars).await.expect("the server starts");
    let app = TestApp::run(app, Arc::new(db)).await;
    (app, gate)
}

/// Asks for `user`'s tasks until the answer is a 503 whose sentence contains `words`, and
/// returns it. Before that, the server may still answer, or answer for the connection it
/// lost (a 503 too); anything else fails at once.
async fn refused(user: &User, words: &str) -> Reply {
    wait_for(
        &format!("a 503 saying {words:?}"),
        Duration::from_secs(10),
        async || {
            let reply = user.list_tasks().send().await;
            match reply.status() {
                503 if reply.text().contains(words) => Some(reply),
                200 | 503 => None,
                status => panic!("{status}: {}", reply.text()),
            }
        },
    )
    .await
}

/// Asks for `user`'s tasks until they are served (503s meanwhile, nothing else).
async fn served_again(user: &User) {
    wait_until(
        "tasks to be served again after the refusal ended",
        Duration::from_secs(10),
        async || {
            let reply = user.list_tasks().send().await;
            assert!(matches!(reply.status(), 200 | 503), "{}", reply.text());
            reply.status() == 200
        },
    )
    .await;
}

/// Refuses new connections with `code` (cutting the open ones), and checks what a task
/// request and readiness say once the server has met the refusal.
async fn assert_refusal(code: &str, cause: &str, words: &str, retry_after: &str) {
    let gated = gated(&[]).await;
    gated.alice.list_tasks().expect(200).await;
    gated.gate.refuse(code, "refused by the test");

    let reply = refused(&gated.alice, words).await;
    assert_eq!(reply.header("retry-after"), Some(retry_after), "{code}");
    let problem = reply.assert_problem(503);
    assert!(problem.detail.contains(words), "{code}: {}", problem.detail);
    let ready = gated.app.get("/health/ready").expect(503).await.value();
    assert_eq!(ready["database"]["reachable"], false, "{ready}");
    assert_eq!(ready["database"]["cause"], cause, "{ready}");
    assert_eq!(
        ready["database"]["detail"],
        problem.detail.as_str(),
        "{ready}"
    );

    // Once the database takes connections again, the same server serves again.
    gated.gate.open();
    served_again(&gated.alice).await;
    gated.app.get("/health/ready").expect(200).await;
}

#[tokio::test]
async fn a_starting_database_57p03_is_a_503_that_says_it_is_starting() {
    assert_refusal("57P03", "starting", "starting up", "2").await;
}

#[tokio::test]
async fn a_full_database_53300_is_a_503_that_names_the_connection_limit() {
    assert_refusal("53300", "too_many_connections", "as many clients", "2").await;
}

#[tokio::test]
async fn a_database_not_accepting_connections_55000_is_a_503() {
    assert_refusal(
        "55000",
        "not_accepting_connections",
        "not accepting new clients",
        "2",
    )
    .await;
}

#[tokio::test]
async fn a_database_that_is_gone_3d000_is_a_503_that_operators_must_fix() {
    assert_refusal("3D000", "database_missing", "does not exist", "30").await;
}

#[tokio::test]
async fn rotated_credentials_28p01_are_a_503_not_a_500() {
    assert_refusal("28P01", "credentials_refused", "credentials", "30").await;
}

#[tokio::test]
async fn a_refused_role_28000_is_a_503_not_a_500() {
    assert_refusal("28000", "credentials_refused", "credentials", "30").await;
}

#[tokio::test]
async fn an_admin_shutdown_57p01_at_connect_is_a_503() {
    assert_refusal("57P01", "shut_down", "restarted or shut down", "2").await;
}

#[tokio::test]
async fn a_real_database_that_stops_allowing_connections_is_a_503_naming_the_cause() {
    let app = TestApp::spawn_on(TestDb::create().await, &[("DB_CONNECT_TIMEOUT", "1s")]).await;
    let alice = app.sign_up("alice").await;
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

    refused(&alice, "not accepting new clients")
        .await
        .assert_problem(503);
    let ready = app.get("/health/ready").expect(503).await.value();
    assert_eq!(ready["database"]["cause"], "not_accepting_connections");

    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS true"#
        )))
        .await
        .unwrap();
    alice.list_tasks().expect(200).await;
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_a_503_and_its_connection_serves_again() {
    let app = TestApp::spawn_on(
        TestDb::create().await,
        &[
            ("DB_STATEMENT_TIMEOUT", "500ms"),
            ("DB_MAX_CONNECTIONS", "1"),
        ],
    )
    .await;
    let alice = app.sign_up("alice").await;
    // An exclusive lock makes the listing wait until its statement times out.
    let mut locker = app.db.connect().await;
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE task IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let reply = alice.list_tasks().send().await;
    assert_eq!(reply.header("retry-after"), Some("2"));
    let problem = reply.assert_problem(503);
    assert!(problem.detail.contains("longer than"), "{}", problem.detail);
    // One slow statement is not an outage.
    app.get("/health/ready").expect(200).await;

    locker.execute("ROLLBACK").await.unwrap();
    // The pool's only connection was given back clean.
    alice.list_tasks().expect(200).await;
}
