//! Housekeeping rides on traffic: no timer wakes an idle database.

use std::time::{Duration, Instant};

use sqlx::Executor;

use crate::helpers::TestApp;

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
    let created = app
        .register("alice", "alice@example.com", "password-of-alice")
        .await;
    assert_eq!(created.status(), 201);
    add_expired_session(&app, "old").await;
    assert_eq!(expired_sessions(&app).await, 1);

    // Nothing runs by itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(expired_sessions(&app).await, 1);

    // A login is traffic: it starts a pass in the background.
    let login = app.login("alice@example.com", "password-of-alice").await;
    assert_eq!(login.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while expired_sessions(&app).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the expired session was never swept"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Within the interval, requests start no other pass.
    add_expired_session(&app, "older").await;
    let token: serde_json::Value = app
        .login("alice@example.com", "password-of-alice")
        .await
        .json()
        .await
        .unwrap();
    let me = app
        .get_with("/api/auth/me", token["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(expired_sessions(&app).await, 1);
}
