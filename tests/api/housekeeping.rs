//! Housekeeping rides on traffic: no timer wakes an idle database.

use std::time::Duration;

use sqlx::Executor;

use crate::helpers::{LoginBody, TestApp, User, holds_for, wait_until};

/// How long the test watches for a pass that must not start: by a timer, or by a request
/// within the interval (which would start it at once).
const QUIET: Duration = Duration::from_millis(300);

async fn expired_sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM session WHERE expires_at < timezone('utc', now())")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn add_expired_session(app: &TestApp, jti: &str) {
    app.pool
        .execute(sqlx::AssertSqlSafe(format!(
            "INSERT INTO session (user_id, token_jti, token, expires_at)
             SELECT id, '{jti}', 'x', timezone('utc', now()) - interval '1 hour' FROM \"user\""
        )))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_first_request_sweeps_expired_sessions_and_the_next_ones_wait_for_the_interval() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "password-of-alice")
        .expect(201)
        .await;
    add_expired_session(&app, "old").await;
    assert_eq!(expired_sessions(&app).await, 1);

    // Nothing runs by itself.
    holds_for("the expired session is kept", QUIET, async || {
        expired_sessions(&app).await == 1
    })
    .await;

    // A login is traffic: it starts a pass in the background.
    app.login("alice@example.com", "password-of-alice")
        .expect(200)
        .await;
    wait_until(
        "the expired session to be swept",
        Duration::from_secs(5),
        async || expired_sessions(&app).await == 0,
    )
    .await;

    // Within the interval, requests start no other pass.
    add_expired_session(&app, "older").await;
    let login: LoginBody = app
        .login("alice@example.com", "password-of-alice")
        .expect(200)
        .await
        .json();
    User::new(&app, login.user.id, login.access_token)
        .me()
        .expect(200)
        .await;
    holds_for("the second expired session is kept", QUIET, async || {
        expired_sessions(&app).await == 1
    })
    .await;
}
