//! Revocation across instances: each instance caches the sessions it has read, and a logout
//! on one must be refused by the others at once, also after their listeners were lost.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::TestApp;

/// Within this long of a logout's answer, every instance refuses the token.
const PROPAGATION: Duration = Duration::from_millis(100);

impl TestApp {
    async fn logout(&self, token: &str) {
        let r = self
            .client
            .post(self.url("/api/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }

    /// Listener connections of every instance on this test's database.
    async fn listeners(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'todo-api listener'",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    async fn terminate_listeners(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'todo-api listener'",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.get_with("/api/auth/me", token).await.status().as_u16()
}

/// Uses `token` on every instance until all of them listen (a request on a cold instance
/// starts its listener), then once more, so each has the session cached.
async fn warm(apps: &[&TestApp], token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for app in apps {
            assert_eq!(me_status(app, token).await, 200);
        }
        if apps[0].listeners().await >= apps.len() as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "the listeners never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for app in apps {
        assert_eq!(me_status(app, token).await, 200);
    }
}

/// Logs out on `on`, then asks `others` until each refuses: returns how long that took.
async fn refused_within(on: &TestApp, others: &[&TestApp], token: &str) -> Duration {
    on.logout(token).await;
    let started = Instant::now();
    for app in others {
        loop {
            let status = me_status(app, token).await;
            if status == 401 {
                break;
            }
            assert_eq!(status, 200);
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "a revoked token still works"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let took = started.elapsed();
    eprintln!(
        "refused by {} other instance(s) {took:?} after the logout",
        others.len()
    );
    took
}

async fn login(app: &TestApp, name: &str) -> String {
    let body: Value = app
        .login(
            &format!("{name}@example.com"),
            &format!("password-of-{name}"),
        )
        .await
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_by_two_others_within_100_ms_also_after_their_listeners_dropped()
 {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let c = a.another_instance().await;
    let all = [&a, &b, &c];
    let (_, first) = a.user("roamer").await;

    // Every instance listens and has the session cached.
    warm(&all, &first).await;
    let took = refused_within(&a, &[&b, &c], &first).await;
    assert!(took < PROPAGATION, "refused after {took:?}");
    assert_eq!(me_status(&a, &first).await, 401);

    // The listeners are killed (as Neon does when it suspends). A logout right after must
    // still be refused everywhere: without a listener, an instance trusts no cached session.
    let second = login(&a, "roamer").await;
    warm(&all, &second).await;
    assert_eq!(a.terminate_listeners().await, 3);
    let took = refused_within(&a, &[&b, &c], &second).await;
    assert!(
        took < PROPAGATION,
        "refused after {took:?} without listeners"
    );

    // Requests bring the listeners back; a logout is again refused everywhere in time.
    let third = login(&a, "roamer").await;
    warm(&all, &third).await;
    let took = refused_within(&a, &[&b, &c], &third).await;
    assert!(
        took < PROPAGATION,
        "refused after {took:?} once listening again"
    );
    for app in all {
        assert_eq!(me_status(app, &third).await, 401);
    }
}

#[tokio::test]
async fn an_idle_instance_does_not_reconnect_its_lost_listener_until_a_request_comes() {
    let a = TestApp::spawn().await;
    let (_, token) = a.user("sleeper").await;
    warm(&[&a], &token).await;
    assert_eq!(a.terminate_listeners().await, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(a.listeners().await, 0, "the listener reconnected by itself");
    // The next request is answered from the database and starts listening again.
    assert_eq!(me_status(&a, &token).await, 200);
    warm(&[&a], &token).await;
    assert_eq!(a.listeners().await, 1);
}
