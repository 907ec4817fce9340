//! Field rules as a client meets them: messages that say what is accepted, stored values
//! accepted back, text that shows nothing refused, bounded lists and a task quota.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, TestDb, problem},
    tasks::User,
};

async fn post(app: &TestApp, user: &User, body: &Value) -> reqwest::Response {
    app.client
        .post(app.tasks_url(user.id))
        .bearer_auth(&user.token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn put(app: &TestApp, user: &User, id: i64, body: &Value) -> reqwest::Response {
    app.client
        .put(app.task_url(user.id, id))
        .bearer_auth(&user.token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn list(app: &TestApp, user: &User, query: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{query}", app.tasks_url(user.id)))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
}

/// The one field error of a 422.
async fn refusal(response: reqwest::Response) -> (String, String) {
    let body = problem(response, 422).await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    (
        errors[0]["field"].as_str().unwrap().to_owned(),
        errors[0]["message"].as_str().unwrap().to_owned(),
    )
}

/// Rows as the original backend may have stored them, for `user`'s task `id`.
async fn store_legacy_values(app: &TestApp, id: i64) {
    sqlx::query(
        "UPDATE task SET title = $2, due_date = 'next friday',
                recursion_pattern = 'every other day', tags = ' a ,, a' WHERE id = $1",
    )
    .bind(id as i32)
    .bind("x".repeat(199) + "\u{1b}")
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_bad_due_date_is_told_what_is_accepted_with_an_example() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let response = post(&app, &alice, &json!({"title": "t", "due_date": "tomorrow"})).await;
    let (field, message) = refusal(response).await;
    assert_eq!(field, "due_date");
    assert_eq!(
        message,
        "must be a date like 2026-12-01 or a date-time with a time zone like 2026-12-01T09:30:00Z"
    );
}

#[tokio::test]
async fn no_refusal_shows_a_regular_expression() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let body = json!({
        "title": "", "description": 5, "due_date": "soon", "priority": "Urgent",
        "tags": "\u{1b}", "recursion_pattern": "often", "completed": "yes"
    });
    let problem = problem(post(&app, &alice, &body).await, 422).await;
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 7, "{problem}");
    for error in errors {
        let message = error["message"].as_str().unwrap();
        let names_every_value = message == "must be true or false";
        assert!(
            message.contains("like") || names_every_value,
            "no example: {message}"
        );
        for jargon in ["^", "$", "pattern", "[", "\\u"] {
            assert!(!message.contains(jargon), "{jargon} in {message}");
        }
    }
}

#[tokio::test]
async fn the_spec_describes_each_task_field_rule_in_words() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let create = &spec["components"]["schemas"]["CreateTask"]["properties"];
    let due = create["due_date"]["description"].as_str().unwrap();
    assert!(due.contains("like 2026-12-01"), "{due}");
    for field in [
        "title",
        "description",
        "tags",
        "recursion_pattern",
        "priority",
    ] {
        let text = create[field]["description"].as_str().unwrap();
        assert!(text.contains("like"), "{field}: {text}");
    }
}

#[tokio::test]
async fn values_the_old_backend_stored_are_accepted_back_unchanged() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "t"})).await;
    let id = task["id"].as_i64().unwrap();
    store_legacy_values(&app, id).await;
    let stored: Value = app
        .client
        .get(app.task_url(alice.id, id))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The old frontend's edit form sends every field back.
    let mut edit = stored.clone();
    edit["description"] = json!("now with a description");
    let response = put(&app, &alice, id, &edit).await;
    assert_eq!(response.status(), 200);
    let saved: Value = response.json().await.unwrap();
    for field in ["title", "due_date", "recursion_pattern", "tags"] {
        assert_eq!(saved[field], stored[field], "{field}");
    }
    assert_eq!(saved["description"], "now with a description");
}

#[tokio::test]
async fn a_changed_value_follows_todays_rules_even_on_a_legacy_row() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "t"})).await;
    let id = task["id"].as_i64().unwrap();
    store_legacy_values(&app, id).await;
    let response = put(&app, &alice, id, &json!({"due_date": "next saturday"})).await;
    assert_eq!(refusal(response).await.0, "due_date");
}

#[tokio::test]
async fn titles_that_show_nothing_or_hold_control_characters_are_422() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    for title in [
        "\u{200b}\u{200b}",
        "\u{feff}\u{2060}",
        "\u{1b}[31mred\u{1b}[0m",
        "invoice\u{202e}fdp.exe",
        "a\u{7}b",
    ] {
        let response = post(&app, &alice, &json!({ "title": title })).await;
        assert_eq!(refusal(response).await.0, "title", "{title:?}");
    }
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn tags_that_show_nothing_or_hold_control_characters_are_422() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    for tags in ["work,\u{200b}", "\u{1b}[2J", "home,\u{202e}x"] {
        let response = post(&app, &alice, &json!({ "title": "t", "tags": tags })).await;
        assert_eq!(refusal(response).await.0, "tags", "{tags:?}");
    }
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn a_forged_cursor_is_422_before_any_statement() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let forged = [
        // {"s":"created_at","o":"desc","k":"-0001-01-01 00:00:00","i":1}
        "eyJzIjoiY3JlYXRlZF9hdCIsIm8iOiJkZXNjIiwiayI6Ii0wMDAxLTAxLTAxIDAwOjAwOjAwIiwiaSI6MX0",
        // {"s":"priority","o":"asc","k":"9","i":1}
        "eyJzIjoicHJpb3JpdHkiLCJvIjoiYXNjIiwiayI6IjkiLCJpIjoxfQ",
        "not-a-cursor",
    ];
    for cursor in forged {
        let response = list(&app, &alice, &format!("?cursor={cursor}")).await;
        assert_eq!(refusal(response).await.0, "cursor", "{cursor}");
    }
}

#[tokio::test]
async fn a_page_size_outside_1_to_500_is_422() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    for limit in ["0", "501", "ten"] {
        let response = list(&app, &alice, &format!("?limit={limit}")).await;
        let (field, message) = refusal(response).await;
        assert_eq!(field, "limit");
        assert!(message.contains("1 to 500"), "{message}");
    }
}

#[tokio::test]
async fn a_list_without_a_limit_returns_500_tasks_and_links_to_the_rest() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    sqlx::query(
        "INSERT INTO task (user_id, title) SELECT $1, 'task ' || n FROM generate_series(1, 501) n",
    )
    .bind(alice.id as i32)
    .execute(&app.pool)
    .await
    .unwrap();
    let first = list(&app, &alice, "").await;
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let page: Vec<Value> = first.json().await.unwrap();
    assert_eq!(page.len(), 500);
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.split_once(">; rel=\"next\""))
        .unwrap()
        .0;
    let second = app
        .client
        .get(app.url(next))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert!(second.headers().get("link").is_none());
    let rest: Vec<Value> = second.json().await.unwrap();
    assert_eq!(rest.len(), 1);
}

#[tokio::test]
async fn creating_a_task_beyond_the_quota_is_409_and_stores_nothing() {
    let app = TestApp::spawn_on(TestDb::create().await, &[("MAX_TASKS_PER_USER", "2")]).await;
    let alice = app.login_user("alice").await;
    app.create_task(&alice, json!({"title": "one"})).await;
    app.create_task(&alice, json!({"title": "two"})).await;
    let response = post(&app, &alice, &json!({"title": "three"})).await;
    let body = problem(response, 409).await;
    assert!(
        body["detail"].as_str().unwrap().contains("2 tasks"),
        "{body}"
    );
    assert_eq!(app.task_count().await, 2);
    // Another account has a quota of its own.
    let bob = app.login_user("bob").await;
    app.create_task(&bob, json!({"title": "one"})).await;
}
