//! Readiness reports the last known state without touching the database, so probing an
//! idle server lets Neon suspend it; `?probe=live` asks, at most once per second.

use std::time::Duration;

use std::sync::atomic::Ordering;

use crate::{helpers::TestApp, refusals::gated};

#[tokio::test]
async fn probing_an_idle_server_sends_the_database_nothing() {
    let gated = gated(&[]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = gated.gate.sent.load(Ordering::Relaxed);
    for _ in 0..100 {
        gated.app.get("/health/ready").expect(200).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(gated.gate.sent.load(Ordering::Relaxed), before);
}

#[tokio::test]
async fn live_probes_query_at_most_once_per_second() {
    let app = TestApp::spawn().await;
    let mut answered = Vec::new();
    for _ in 0..20 {
        let body = app
            .get("/health/ready?probe=live")
            .expect(200)
            .await
            .value();
        answered.push(body["observed_at"].as_str().unwrap().to_owned());
    }
    answered.dedup();
    // Every answer within one second reports the same contact: one query served them all.
    assert!(answered.len() <= 2, "{answered:?}");
}

#[tokio::test]
async fn readiness_says_when_it_last_heard_from_the_database_and_hides_the_build() {
    let app = TestApp::spawn().await;
    let body = app.get("/health/ready").expect(200).await.value();
    assert!(
        body["observed_at"].as_str().unwrap().ends_with('Z'),
        "{body}"
    );
    assert!(body["age_seconds"].as_f64().unwrap() >= 0.0, "{body}");
    let version = body["database"]["server_version"].as_str().unwrap();
    assert!(version.chars().all(|c| c.is_ascii_digit()), "{version}");
    assert_eq!(body["database"]["cause"], serde_json::Value::Null);
    assert!(body["schema"]["checked_at"].as_str().is_some(), "{body}");
}
