//! `completed_at`: set when a task becomes completed, `null` while it is open.

use serde_json::{Value, json};

use crate::{helpers::TestApp, tasks::User};

async fn patch_complete(app: &TestApp, user: &User, id: i64, body: Option<Value>) -> Value {
    let url = format!("{}/complete", app.task_url(user.id, id));
    let mut request = app.client.patch(url).bearer_auth(&user.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_new_open_task_has_a_null_completed_at() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Open"})).await;
    assert_eq!(task["completed_at"], Value::Null);
}

#[tokio::test]
async fn completing_a_task_sets_completed_at_to_now() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Do"})).await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let done = patch_complete(&app, &alice, task["id"].as_i64().unwrap(), None).await;
    let at: chrono::DateTime<chrono::Utc> = done["completed_at"].as_str().unwrap().parse().unwrap();
    assert!(at >= before && at <= chrono::Utc::now(), "{done}");
    assert!(done["completed_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn reopening_a_task_clears_completed_at() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app
        .create_task(&alice, json!({"title": "Do", "completed": true}))
        .await;
    assert!(task["completed_at"].is_string(), "{task}");
    let id = task["id"].as_i64().unwrap();
    let reopened = patch_complete(&app, &alice, id, Some(json!({"completed": false}))).await;
    assert_eq!(reopened["completed_at"], Value::Null);
}

#[tokio::test]
async fn completing_an_already_completed_task_keeps_its_completed_at() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app
        .create_task(&alice, json!({"title": "Do", "completed": true}))
        .await;
    let id = task["id"].as_i64().unwrap();
    let again = patch_complete(&app, &alice, id, Some(json!({"completed": true}))).await;
    assert_eq!(again["completed_at"], task["completed_at"]);
}

#[tokio::test]
async fn completed_at_cannot_be_written_by_a_client() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app
        .create_task(
            &alice,
            json!({"title": "Do", "completed_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(task["completed_at"], Value::Null);
}

#[tokio::test]
async fn a_row_completed_before_the_field_existed_shows_null() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Old"})).await;
    sqlx::query("UPDATE task SET completed = true, completed_at = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let url = app.task_url(alice.id, task["id"].as_i64().unwrap());
    let shown: Value = app
        .client
        .get(url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (shown["completed"].clone(), shown["completed_at"].clone()),
        (json!(true), Value::Null)
    );
}
