//! Prometheus metrics on their own listener: request latencies by route template, the
//! pool, database errors by class, throttled requests, password hashing queues.

use std::net::SocketAddr;

use crate::helpers::{TestApp, TestDb};

/// A server on a fresh database with its metrics listener on a free port, and that port.
pub async fn app_with_metrics(vars: &[(&str, &str)]) -> (TestApp, SocketAddr) {
    let db = TestDb::create().await;
    let mut vars = vars.to_vec();
    vars.push(("METRICS_ADDR", "127.0.0.1:0"));
    let app = TestApp::build(&db, &vars).await.unwrap();
    let metrics_addr = app.metrics_addr().expect("metrics are on");
    (
        TestApp::run(app, std::sync::Arc::new(db)).await,
        metrics_addr,
    )
}

pub async fn scrape(app: &TestApp, metrics_addr: SocketAddr) -> String {
    app.client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the series whose name and labels are exactly `series`, if scraped.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_on_their_own_listener() {
    let db = TestDb::create().await;
    let app = TestApp::build(&db, &[("METRICS_ADDR", "127.0.0.1:0")])
        .await
        .unwrap();
    let metrics_addr = app.metrics_addr().expect("metrics are on");
    let app = TestApp::run(app, std::sync::Arc::new(db)).await;
    assert_ne!(metrics_addr, app.addr);

    let alice = app.sign_up("alice").await;
    for _ in 0..3 {
        alice.list_tasks().expect(200).await;
    }
    for n in 0..3 {
        app.get(&format!("/no/such/path/{n}")).expect(404).await;
    }

    let text = app
        .client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tasks_200 = text
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_count")
                && l.contains(r#"method="GET""#)
                && l.contains(r#"route="/api/{user_id}/tasks""#)
                && l.contains(r#"status="200""#)
        })
        .unwrap_or_else(|| panic!("no series for the task list in:\n{text}"));
    let count: f64 = tasks_200.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{tasks_200}");
    assert!(
        text.contains("http_server_request_duration_seconds_bucket"),
        "latency is a histogram"
    );
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    assert!(
        !text.contains("/no/such/path"),
        "an unmatched path became a label"
    );
    assert!(
        text.contains(r#"db_pool_connections{state="max"} 10"#),
        "{text}"
    );
    assert!(
        text.contains(r#"db_pool_connections{state="idle"}"#),
        "{text}"
    );
    // The public port does not serve them.
    app.get("/metrics").expect(404).await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let db = TestDb::create().await;
    let app = TestApp::build(&db, &[("METRICS_ADDR", "off")])
        .await
        .unwrap();
    assert_eq!(app.metrics_addr(), None);
}

#[tokio::test]
async fn every_rate_limit_refusal_is_counted_by_its_policy() {
    let (app, metrics_addr) = app_with_metrics(&[("REGISTRATION_LIMIT_PER_CLIENT", "1")]).await;
    app.register("alice", "alice@example.com", "correct horse")
        .expect(201)
        .await;
    for n in 0..2 {
        app.register(
            &format!("bob{n}"),
            &format!("bob{n}@example.com"),
            "correct horse",
        )
        .expect(429)
        .await;
    }
    // Five wrong guesses are checked; the sixth is refused by the account-and-client limit.
    for n in 0..5 {
        app.login("alice@example.com", &format!("guess-{n}"))
            .expect(401)
            .await;
    }
    app.login("alice@example.com", "guess-5").expect(429).await;

    let text = scrape(&app, metrics_addr).await;
    let throttled = |scope: &str| {
        value(
            &text,
            &format!(r#"throttled_requests_total{{scope="{scope}"}}"#),
        )
    };
    assert_eq!(throttled("register-client"), Some(2.0), "{text}");
    assert_eq!(throttled("login-account-client"), Some(1.0), "{text}");
    // Limits nobody reached have no series.
    assert_eq!(throttled("login-client"), None, "{text}");
    assert_eq!(throttled("login-account"), None, "{text}");
    assert_eq!(throttled("register-global"), None, "{text}");
}

#[tokio::test]
async fn the_password_hashing_queues_are_gauged_and_empty_when_idle() {
    let (app, metrics_addr) = app_with_metrics(&[]).await;
    let before = scrape(&app, metrics_addr).await;
    for queue in ["login", "registration"] {
        let depth = format!(r#"password_hash_queue_depth{{queue="{queue}"}}"#);
        assert_eq!(value(&before, &depth), Some(0.0), "{before}");
    }

    app.register("alice", "alice@example.com", "correct horse")
        .expect(201)
        .await;
    // At once, but within the per-account-and-client limit (5).
    let logins: Vec<_> = (0..4)
        .map(|n| {
            let password = if n % 2 == 0 {
                "correct horse"
            } else {
                "wrong horse"
            };
            tokio::spawn(app.login("alice@example.com", password).send())
        })
        .collect();
    for login in logins {
        let status = login.await.unwrap().status();
        assert!(status == 200 || status == 401, "{status}");
    }

    // Every job that entered a queue has left it: the gauges are back at 0, nothing was shed.
    let text = scrape(&app, metrics_addr).await;
    for queue in ["login", "registration"] {
        let depth = format!(r#"password_hash_queue_depth{{queue="{queue}"}}"#);
        assert_eq!(value(&text, &depth), Some(0.0), "{text}");
        let shed = format!(r#"password_hash_shed_total{{queue="{queue}"}}"#);
        assert_eq!(value(&text, &shed), Some(0.0), "{text}");
    }
    assert!(
        text.contains("# TYPE password_hash_queue_depth gauge"),
        "{text}"
    );
}
