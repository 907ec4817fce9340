//! Prometheus metrics on their own listener: request latencies by route template, the
//! pool, database errors by class.

use crate::helpers::{TestApp, TestDb};

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
