//! `completed_at`: set when a task becomes completed, `null` while it is open.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_new_open_task_has_a_null_completed_at() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("Open").await;
    assert_eq!(task.completed_at, None);
}

#[tokio::test]
async fn completing_a_task_sets_completed_at_to_now() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("Do").await;
    let before = Utc::now() - Duration::seconds(1);
    let done = alice.complete_task(task.id).expect(200).await.task();
    let stamp = done.completed_at.unwrap();
    let at: DateTime<Utc> = stamp.parse().unwrap();
    assert!(at >= before && at <= Utc::now(), "{stamp}");
    assert!(stamp.ends_with('Z'), "{stamp}");
}

#[tokio::test]
async fn reopening_a_task_clears_completed_at() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice
        .new_task(json!({"title": "Do", "completed": true}))
        .await;
    assert!(task.completed_at.is_some());
    let reopened = alice
        .complete_task(task.id)
        .json(&json!({"completed": false}))
        .expect(200)
        .await
        .task();
    assert_eq!(reopened.completed_at, None);
}

#[tokio::test]
async fn completing_an_already_completed_task_keeps_its_completed_at() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice
        .new_task(json!({"title": "Do", "completed": true}))
        .await;
    let again = alice
        .complete_task(task.id)
        .json(&json!({"completed": true}))
        .expect(200)
        .await
        .task();
    assert_eq!(again.completed_at, task.completed_at);
}

#[tokio::test]
async fn completed_at_sent_by_a_client_is_ignored() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice
        .new_task(json!({"title": "Do", "completed_at": "2020-01-01T00:00:00Z"}))
        .await;
    assert_eq!(task.completed_at, None);
}

#[tokio::test]
async fn a_row_completed_before_the_field_existed_shows_null() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("Old").await;
    sqlx::query("UPDATE task SET completed = true, completed_at = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let shown = alice.get_task(task.id).expect(200).await.task();
    assert_eq!((shown.completed, shown.completed_at), (true, None));
}
