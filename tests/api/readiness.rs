//! Readiness reports the last known state without touching the database, so probing an
//! idle server lets Neon suspend it; `?probe=live` asks, at most once per second.

use std::{sync::atomic::Ordering, time::Duration};

use crate::{
    helpers::{TestApp, holds_for},
    refusals::behind_gate,
};

#[tokio::test]
async fn probing_an_idle_server_sends_the_database_nothing() {
    // No one has used the server: once it has started, nothing of its own is under way.
    let (app, gate) = behind_gate(&[]).await;
    let before = gate.sent.load(Ordering::Relaxed);
    for _ in 0..100 {
        app.get("/health/ready").expect(200).await;
    }
    // Nor do the probes leave anything behind that queries later.
    holds_for(
        "the server has sent the database nothing",
        Duration::from_millis(500),
        async || gate.sent.load(Ordering::Relaxed) == before,
    )
    .await;
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
