//! Field rules as a client meets them: messages that say what is accepted, stored values
//! accepted back, text that shows nothing refused, bounded lists and a task quota.

use serde_json::{Value, json};

use crate::helpers::{Problem, TestApp, TestDb};

/// The one field error of a problem: its field and message.
fn only_error(problem: &Problem) -> (&str, &str) {
    assert_eq!(problem.errors.len(), 1, "{problem:?}");
    (&problem.errors[0].field, &problem.errors[0].message)
}

/// Gives task `id` values the original backend may have stored, which today's rules refuse.
async fn store_legacy_values(app: &TestApp, id: i64) {
    sqlx::query(
        "UPDATE task SET title = $2, due_date = 'next friday',
                recursion_pattern = 'every other day', tags = ' a ,, a' WHERE id = $1",
    )
    .bind(i32::try_from(id).unwrap())
    .bind("x".repeat(199) + "\u{1b}")
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_bad_due_date_is_told_what_is_accepted_with_an_example() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let problem = alice
        .create_task()
        .json(&json!({"title": "t", "due_date": "tomorrow"}))
        .expect_problem(422)
        .await;
    assert_eq!(
        only_error(&problem),
        (
            "due_date",
            "must be a date like 2026-12-01 or a date-time with a time zone like 2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)"
        )
    );
}

#[tokio::test]
async fn no_refusal_shows_a_regular_expression() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let body = json!({
        "title": "", "description": 5, "due_date": "soon", "priority": "Urgent",
        "tags": "\u{1b}", "recursion_pattern": "often", "completed": "yes"
    });
    let problem = alice.create_task().json(&body).expect_problem(422).await;
    assert_eq!(problem.errors.len(), 7, "{problem:?}");
    for error in &problem.errors {
        let message = error.message.as_str();
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

#[test]
fn the_spec_describes_each_task_field_rule_in_words() {
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
    let alice = app.sign_up("alice").await;
    let id = alice.add_task("t").await.id;
    store_legacy_values(&app, id).await;
    let stored = alice.get_task(id).expect(200).await.value();
    // The old frontend's edit form sends every field back.
    let mut edit = stored.clone();
    edit["description"] = json!("now with a description");
    let saved = alice.put_task(id).json(&edit).expect(200).await.value();
    for field in ["title", "due_date", "recursion_pattern", "tags"] {
        assert_eq!(saved[field], stored[field], "{field}");
    }
    assert_eq!(saved["description"], "now with a description");
}

#[tokio::test]
async fn a_changed_value_follows_todays_rules_even_on_a_legacy_row() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let id = alice.add_task("t").await.id;
    store_legacy_values(&app, id).await;
    let problem = alice
        .put_task(id)
        .json(&json!({"due_date": "next saturday"}))
        .expect_problem(422)
        .await;
    assert_eq!(problem.fields(), ["due_date"]);
}

#[tokio::test]
async fn titles_that_show_nothing_or_hold_control_characters_are_422() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for title in [
        "\u{200b}\u{200b}",
        "\u{feff}\u{2060}",
        "\u{1b}[31mred\u{1b}[0m",
        "invoice\u{202e}fdp.exe",
        "a\u{7}b",
    ] {
        let problem = alice
            .create_task()
            .json(&json!({ "title": title }))
            .expect_problem(422)
            .await;
        assert_eq!(problem.fields(), ["title"], "{title:?}");
    }
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn tags_that_show_nothing_or_hold_control_characters_are_422() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for tags in ["work,\u{200b}", "\u{1b}[2J", "home,\u{202e}x"] {
        let problem = alice
            .create_task()
            .json(&json!({ "title": "t", "tags": tags }))
            .expect_problem(422)
            .await;
        assert_eq!(problem.fields(), ["tags"], "{tags:?}");
    }
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn a_forged_cursor_is_422_before_any_statement() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let forged = [
        // {"s":"created_at","o":"desc","k":"-0001-01-01 00:00:00","i":1}
        "eyJzIjoiY3JlYXRlZF9hdCIsIm8iOiJkZXNjIiwiayI6Ii0wMDAxLTAxLTAxIDAwOjAwOjAwIiwiaSI6MX0",
        // {"s":"priority","o":"asc","k":"9","i":1}
        "eyJzIjoicHJpb3JpdHkiLCJvIjoiYXNjIiwiayI6IjkiLCJpIjoxfQ",
        "not-a-cursor",
    ];
    for cursor in forged {
        let problem = alice
            .list_tasks()
            .query(&format!("cursor={cursor}"))
            .expect_problem(422)
            .await;
        assert_eq!(problem.fields(), ["cursor"], "{cursor}");
    }
}

#[tokio::test]
async fn a_page_size_outside_1_to_500_is_422() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for limit in ["0", "501", "ten"] {
        let problem = alice
            .list_tasks()
            .query(&format!("limit={limit}"))
            .expect_problem(422)
            .await;
        let (field, message) = only_error(&problem);
        assert_eq!(field, "limit");
        assert!(message.contains("1 to 500"), "{message}");
    }
}

#[tokio::test]
async fn a_list_without_a_limit_returns_500_tasks_and_links_to_the_rest() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    sqlx::query(
        "INSERT INTO task (user_id, title) SELECT $1, 'task ' || n FROM generate_series(1, 501) n",
    )
    .bind(i32::try_from(alice.id).unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let first = alice.list_tasks().expect(200).await;
    assert_eq!(first.tasks().len(), 500);
    let next = first.next_query().expect("a Link to the next page");
    let second = alice.list_tasks().query(&next).expect(200).await;
    assert_eq!(second.tasks().len(), 1);
    assert_eq!(second.next_query(), None);
}

#[tokio::test]
async fn creating_a_task_beyond_the_quota_is_409_and_stores_nothing() {
    let app = TestApp::spawn_on(TestDb::create().await, &[("MAX_TASKS_PER_USER", "2")]).await;
    let alice = app.sign_up("alice").await;
    alice.add_task("one").await;
    alice.add_task("two").await;
    let problem = alice
        .create_task()
        .json(&json!({"title": "three"}))
        .expect_problem(409)
        .await;
    assert!(problem.detail.contains("2 tasks"), "{problem:?}");
    assert_eq!(app.task_count().await, 2);
}

#[tokio::test]
async fn the_task_quota_is_per_account() {
    let app = TestApp::spawn_on(TestDb::create().await, &[("MAX_TASKS_PER_USER", "1")]).await;
    let alice = app.sign_up("alice").await;
    alice.add_task("one").await;
    let bob = app.sign_up("bob").await;
    bob.add_task("one").await;
}
