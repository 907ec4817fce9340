//! Revocation across instances: each instance caches the sessions it has read, and a logout
//! on one must be refused by the others at once, also after their listeners were lost.

use std::time::{Duration, Instant};

use crate::helpers::{LoginBody, TestApp, User, holds_for, wait_until};

/// Within this long of a logout's answer, every instance refuses the token.
const PROPAGATION: Duration = Duration::from_millis(100);

/// Listener connections of every instance on the test's database.
async fn listeners(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'todo-api listener'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn terminate_listeners(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'todo-api listener'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// `user`'s token, sent to `app`.
fn on(app: &TestApp, user: &User) -> User {
    User::new(app, user.id, user.token.clone())
}

async fn me_status(app: &TestApp, user: &User) -> u16 {
    on(app, user).me().send().await.status()
}

/// Uses the token on every instance until all of them listen (a request on a cold instance
/// starts its listener), then once more, so each has the session cached.
async fn warm(apps: &[&TestApp], user: &User) {
    wait_until(
        "every instance to listen",
        Duration::from_secs(10),
        async || {
            for app in apps {
                assert_eq!(me_status(app, user).await, 200);
            }
            listeners(apps[0]).await >= apps.len() as i64
        },
    )
    .await;
    for app in apps {
        assert_eq!(me_status(app, user).await, 200);
    }
}

/// Logs out on `at`, then asks `others` until each refuses: returns how long that took.
/// The questions follow one another without a pause: how long is what is measured.
async fn refused_within(at: &TestApp, others: &[&TestApp], user: &User) -> Duration {
    on(at, user).logout().expect(204).await;
    let started = Instant::now();
    for app in others {
        loop {
            let status = me_status(app, user).await;
            if status == 401 {
                break;
            }
            assert_eq!(status, 200);
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "a revoked token still works"
            );
        }
    }
    let took = started.elapsed();
    eprintln!(
        "refused by {} other instance(s) {took:?} after the logout",
        others.len()
    );
    took
}

async fn login(app: &TestApp, name: &str) -> User {
    let body: LoginBody = app
        .login(
            &format!("{name}@example.com"),
            &format!("password-of-{name}"),
        )
        .expect(200)
        .await
        .json();
    User::new(app, body.user.id, body.access_token)
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_by_two_others_within_100_ms_also_after_their_listeners_dropped()
 {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let c = a.another_instance().await;
    let all = [&a, &b, &c];
    let first = a.sign_up("roamer").await;

    // Every instance listens and has the session cached.
    warm(&all, &first).await;
    let took = refused_within(&a, &[&b, &c], &first).await;
    assert!(took < PROPAGATION, "refused after {took:?}");
    assert_eq!(me_status(&a, &first).await, 401);

    // The listeners are killed (as Neon does when it suspends). A logout right after must
    // still be refused everywhere: without a listener, an instance trusts no cached session.
    let second = login(&a, "roamer").await;
    warm(&all, &second).await;
    assert_eq!(terminate_listeners(&a).await, 3);
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
    let sleeper = a.sign_up("sleeper").await;
    warm(&[&a], &sleeper).await;
    assert_eq!(terminate_listeners(&a).await, 1);
    wait_until(
        "the terminated listener to be gone",
        Duration::from_secs(10),
        async || listeners(&a).await == 0,
    )
    .await;
    holds_for(
        "the listener stays disconnected",
        Duration::from_millis(500),
        async || listeners(&a).await == 0,
    )
    .await;
    // The next request is answered from the database and starts listening again.
    assert_eq!(me_status(&a, &sleeper).await, 200);
    warm(&[&a], &sleeper).await;
    assert_eq!(listeners(&a).await, 1);
}
