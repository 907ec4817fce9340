//! The task routes: success paths, ownership, field rules, updates, completion and
//! recurrence, conditional requests and idempotent creates.

use serde_json::{Value, json};

use crate::helpers::{Call, Task, TestApp, User};

/// A server with Alice signed up.
async fn with_alice() -> (TestApp, User) {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    (app, alice)
}

/// The ETag of a task at `version`.
fn etag(task: i64, version: u32) -> String {
    format!("\"{task}-{version}\"")
}

/// `n` distinct tags, comma-separated.
fn tags(n: usize) -> String {
    (0..n)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test]
async fn creating_a_task_returns_201_with_location_etag_and_every_field() {
    let (_app, alice) = with_alice().await;
    let reply = alice
        .create_task()
        .json(&json!({
            "title": "  Water the plants  ",
            "description": "balcony",
            "due_date": "2026-12-01T09:30:00+02:00",
            "priority": "High",
            "tags": " home, garden,,Home ",
            "recursion_pattern": "every 2 weeks",
        }))
        .expect(201)
        .await;
    let task = reply.task();
    assert_eq!(
        reply.header("location"),
        Some(alice.task_path(task.id).as_str())
    );
    assert_eq!(reply.etag(), etag(task.id, 1));
    assert_eq!(task.title, "Water the plants");
    assert_eq!(task.description.as_deref(), Some("balcony"));
    assert_eq!(task.due_date.as_deref(), Some("2026-12-01T09:30:00+02:00"));
    assert_eq!(task.priority, "High");
    assert_eq!(task.tags.as_deref(), Some("home,garden"));
    assert_eq!(task.recursion_pattern.as_deref(), Some("every 2 weeks"));
    assert!(!task.completed);
    assert_eq!(task.user_id, alice.id);
    assert!(task.created_at.ends_with('Z'), "{}", task.created_at);
}

#[tokio::test]
async fn a_task_with_only_a_title_takes_defaults_and_sends_the_rest_as_null() {
    let (_app, alice) = with_alice().await;
    let minimal = alice
        .create_task()
        .json(&json!({"title": "Minimal"}))
        .expect(201)
        .await
        .value();
    assert_eq!(minimal["priority"], "Medium");
    for field in ["description", "due_date", "tags", "recursion_pattern"] {
        assert_eq!(minimal.get(field), Some(&Value::Null), "{field}");
    }
}

#[tokio::test]
async fn each_field_rule_is_a_422_naming_the_field_and_nothing_is_stored() {
    let (app, alice) = with_alice().await;
    // A valid title and one field at fault, which the problem must name alone.
    let bad = |field: &'static str, value: Value| {
        let mut body = json!({"title": "ok"});
        body[field] = value;
        (body, vec![field])
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["title"]),
        bad("title", json!("")),
        bad("title", json!("   ")),
        bad("title", Value::Null),
        bad("title", json!("x".repeat(201))),
        bad("title", json!(42)),
        bad("description", json!("d".repeat(5001))),
        bad("priority", json!("high")),
        bad("priority", json!("URGENT")),
        bad("due_date", json!("2026-02-30")),
        bad("due_date", json!("tomorrow")),
        bad("due_date", json!("2026-12-01T25:00:00Z")),
        bad("due_date", json!("9".repeat(51))),
        bad("tags", json!(tags(21))),
        bad("tags", json!("x".repeat(51))),
        bad("recursion_pattern", json!("sometimes")),
        bad("recursion_pattern", json!("every 0 days")),
        bad("recursion_pattern", json!("x".repeat(101))),
        bad("completed", json!("yes")),
        (
            json!({"title": "", "priority": "low", "due_date": "soon", "tags": tags(21), "recursion_pattern": "often"}),
            vec!["title", "priority", "due_date", "tags", "recursion_pattern"],
        ),
    ];
    for (body, fields) in cases {
        let problem = alice.create_task().json(&body).expect_problem(422).await;
        let mut named = problem.fields();
        named.sort_unstable();
        let mut expected = fields.clone();
        expected.sort_unstable();
        assert_eq!(named, expected, "{body}: {problem:?}");
    }
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn values_at_the_limits_of_the_field_rules_are_accepted() {
    let (app, alice) = with_alice().await;
    for body in [
        json!({"title": "x".repeat(200), "tags": tags(20)}),
        json!({"title": "ok", "tags": "x".repeat(50)}),
    ] {
        alice.create_task().json(&body).expect(201).await;
    }
    assert_eq!(app.task_count().await, 2);
}

#[tokio::test]
async fn hostile_text_is_stored_verbatim() {
    let (app, alice) = with_alice().await;
    let evil = "\"; drop table task; --";
    let task = alice
        .new_task(
            json!({"title": evil, "description": "<script>alert(1)</script>", "tags": "a'b,c\"d"}),
        )
        .await;
    assert_eq!(task.title, evil);
    let stored: (String, String) = sqlx::query_as("SELECT title, tags FROM task")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, (evil.to_owned(), "a'b,c\"d".to_owned()));
}

#[tokio::test]
async fn a_malformed_body_is_400_and_stores_nothing() {
    let (app, alice) = with_alice().await;
    alice
        .create_task()
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .expect_problem(400)
        .await;
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_and_stores_nothing() {
    let (app, alice) = with_alice().await;
    alice
        .create_task()
        .json(&json!({"title": "big", "description": "x".repeat(70 * 1024)}))
        .expect_problem(413)
        .await;
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn get_returns_the_task_with_its_etag() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Read").await;
    let got = alice.get_task(task.id).expect(200).await;
    assert_eq!(got.etag(), etag(task.id, 1));
    assert_eq!(got.task(), task);
}

#[tokio::test]
async fn put_changes_the_task_bumps_its_etag_and_updated_at_and_keeps_created_at() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Read").await;
    let put = alice
        .put_task(task.id)
        .json(&json!({"title": "Read more"}))
        .expect(200)
        .await;
    assert_eq!(put.etag(), etag(task.id, 2));
    let put = put.task();
    assert_eq!(put.title, "Read more");
    assert!(put.updated_at > task.updated_at);
    assert_eq!(put.created_at, task.created_at);
}

#[tokio::test]
async fn patch_complete_marks_ones_own_task_completed() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Read").await;
    let done = alice.complete_task(task.id).expect(200).await;
    assert!(done.task().completed);
}

#[tokio::test]
async fn a_deleted_task_is_gone_and_deleting_it_again_is_404() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Read").await;
    alice.delete_task(task.id).expect(204).await;
    alice.get_task(task.id).expect_problem(404).await;
    alice.delete_task(task.id).expect_problem(404).await;
}

/// The six task routes of `user` (as addressed) about `task`, each named.
fn six_routes(user: &User, task: i64) -> Vec<(&'static str, Call)> {
    vec![
        ("list", user.list_tasks()),
        ("create", user.create_task().json(&json!({"title": "x"}))),
        ("get", user.get_task(task)),
        ("update", user.put_task(task).json(&json!({"title": "x"}))),
        ("complete", user.complete_task(task)),
        ("delete", user.delete_task(task)),
    ]
}

#[tokio::test]
async fn another_users_url_is_403_on_all_six_routes() {
    let (app, alice) = with_alice().await;
    let bob = app.sign_up("bob").await;
    let alices = alice.add_task("Alice's").await;
    for (what, call) in six_routes(&bob.on_urls_of(alice.id), alices.id) {
        let problem = call.expect_problem(403).await;
        assert_eq!(problem.status, 403, "{what}");
    }
    let unchanged = alice.get_task(alices.id).expect(200).await.task();
    assert_eq!(unchanged, alices);
}

#[tokio::test]
async fn another_users_task_is_404_on_the_four_routes_that_take_an_id_as_if_it_did_not_exist() {
    let (app, alice) = with_alice().await;
    let bob = app.sign_up("bob").await;
    let bobs = bob.add_task("Bob's").await;
    let missing = alice.get_task(999_999).expect(404).await.text();
    for (what, call) in six_routes(&alice, bobs.id) {
        if matches!(what, "list" | "create") {
            continue;
        }
        let reply = call.send().await;
        assert_eq!(reply.status(), 404, "{what}");
        assert_eq!(reply.text(), missing, "{what}");
    }
    // Nothing of Bob's changed.
    let (title, completed): (String, bool) =
        sqlx::query_as("SELECT title, completed FROM task WHERE id = $1")
            .bind(bobs.id as i32)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((title.as_str(), completed), ("Bob's", false));
}

#[tokio::test]
async fn without_a_token_every_task_route_is_401() {
    let (app, alice) = with_alice().await;
    let task = alice.add_task("Alice's").await;
    for (what, call) in six_routes(&app.anonymous(alice.id), task.id) {
        assert_eq!(call.send().await.status(), 401, "{what}");
    }
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn a_path_id_that_is_not_a_number_is_not_found() {
    let (_app, alice) = with_alice().await;
    alice
        .call(reqwest::Method::GET, &format!("{}/abc", alice.tasks_path()))
        .expect_problem(404)
        .await;
}

/// Alice with a task whose every field is set.
async fn with_a_full_task() -> (TestApp, User, Task) {
    let (app, alice) = with_alice().await;
    let task = alice
        .new_task(json!({"title": "T", "description": "D", "due_date": "2026-12-01", "priority": "High", "tags": "a,b", "recursion_pattern": "daily"}))
        .await;
    (app, alice, task)
}

#[tokio::test]
async fn put_replaces_present_fields_clears_nulls_and_keeps_absent_ones() {
    let (_app, alice, task) = with_a_full_task().await;
    let updated = alice
        .put_task(task.id)
        .json(&json!({"description": null, "tags": " c, c ,d"}))
        .expect(200)
        .await
        .task();
    assert_eq!(updated.description, None);
    assert_eq!(updated.tags.as_deref(), Some("c,d"));
    assert_eq!(updated.title, "T");
    assert_eq!(updated.due_date.as_deref(), Some("2026-12-01"));
    assert_eq!(updated.priority, "High");
    assert_eq!(updated.recursion_pattern.as_deref(), Some("daily"));
}

#[tokio::test]
async fn put_clears_the_due_date_and_recurrence_and_sets_priority_and_completion() {
    let (_app, alice, task) = with_a_full_task().await;
    let updated = alice
        .put_task(task.id)
        .json(&json!({"due_date": null, "recursion_pattern": null, "priority": "Low", "completed": true}))
        .expect(200).await
        .task();
    assert_eq!(updated.due_date, None);
    assert_eq!(updated.recursion_pattern, None);
    assert_eq!(updated.priority, "Low");
    assert!(updated.completed);
}

#[tokio::test]
async fn a_put_that_clears_title_or_priority_or_has_a_bad_field_is_422_and_changes_nothing() {
    let (_app, alice, task) = with_a_full_task().await;
    for body in [
        json!({"title": null}),
        json!({"priority": null}),
        json!({"title": "new", "due_date": "never"}),
    ] {
        alice
            .put_task(task.id)
            .json(&body)
            .expect_problem(422)
            .await;
    }
    let now = alice.get_task(task.id).expect(200).await.task();
    assert_eq!(now, task);
}

#[tokio::test]
async fn an_empty_put_is_a_valid_update_that_changes_no_field() {
    let (_app, alice, task) = with_a_full_task().await;
    let same = alice
        .put_task(task.id)
        .json(&json!({}))
        .expect(200)
        .await
        .task();
    assert_eq!(
        Task {
            updated_at: task.updated_at.clone(),
            ..same
        },
        task
    );
}

#[tokio::test]
async fn complete_without_a_body_toggles() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Toggle me").await;
    for expected in [true, false, true] {
        let reply = alice.complete_task(task.id).expect(200).await;
        assert_eq!(reply.task().completed, expected);
    }
}

#[tokio::test]
async fn complete_with_a_body_sets_the_value_given() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Set me").await;
    for wanted in [true, true, false, false, true] {
        let reply = alice
            .complete_task(task.id)
            .json(&json!({"completed": wanted}))
            .expect(200)
            .await;
        assert_eq!(reply.task().completed, wanted);
    }
}

#[tokio::test]
async fn complete_with_a_body_lacking_a_boolean_completed_is_422() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Set me").await;
    for body in [json!({"completed": "yes"}), json!({})] {
        alice
            .complete_task(task.id)
            .json(&body)
            .expect_problem(422)
            .await;
    }
    assert!(!alice.get_task(task.id).send().await.task().completed);
}

#[tokio::test]
async fn completing_a_recurring_task_creates_the_next_occurrence_once() {
    let (app, alice) = with_alice().await;
    let task = alice
        .new_task(json!({"title": "Rent", "due_date": "2027-01-31", "recursion_pattern": "monthly", "tags": "home", "priority": "High"}))
        .await;
    for _ in 0..5 {
        alice.complete_task(task.id).expect(200).await;
    }
    type Row = (String, Option<String>, bool, String, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT title, due_date, completed, priority::text, tags FROM task ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[1],
        (
            "Rent".into(),
            Some("2027-02-28".into()),
            false,
            "High".into(),
            Some("home".into())
        )
    );
    // Toggled 5 times: completed.
    assert!(rows[0].2);
}

#[tokio::test]
async fn twenty_concurrent_toggles_of_a_recurring_task_spawn_exactly_one_occurrence() {
    let (app, alice) = with_alice().await;
    let task = alice
        .new_task(
            json!({"title": "Standup", "due_date": "2026-11-27", "recursion_pattern": "weekdays"}),
        )
        .await;
    let toggles: Vec<_> = (0..20)
        .map(|_| tokio::spawn(alice.complete_task(task.id).send()))
        .collect();
    for t in toggles {
        t.await.unwrap().assert_status(200);
    }
    let rows: Vec<(i32, Option<String>, bool)> =
        sqlx::query_as("SELECT id, due_date, completed FROM task ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    // An even number of toggles: back to open. The Friday's successor is the Monday.
    assert!(!rows[0].2);
    assert_eq!(rows[1].1.as_deref(), Some("2026-11-30"));
}

#[tokio::test]
async fn a_recurring_task_without_a_due_date_continues_from_the_completion_day() {
    let (app, alice) = with_alice().await;
    let task = alice
        .new_task(json!({"title": "Stretch", "recursion_pattern": "daily"}))
        .await;
    alice.complete_task(task.id).expect(200).await;
    let due: Option<String> = sqlx::query_scalar("SELECT due_date FROM task WHERE id <> $1")
        .bind(task.id as i32)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    assert_eq!(due.as_deref(), Some(tomorrow.as_str()));
}

#[tokio::test]
async fn if_none_match_is_304_while_the_etag_is_current_and_200_with_the_new_one_after_a_change() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Shared").await;
    for (changed, status, version) in [(false, 304, 1), (true, 200, 2)] {
        if changed {
            alice
                .put_task(task.id)
                .json(&json!({"title": "Changed"}))
                .expect(200)
                .await;
        }
        let reply = alice
            .get_task(task.id)
            .if_none_match(&etag(task.id, 1))
            .expect(status)
            .await;
        assert_eq!(reply.etag(), etag(task.id, version));
    }
}

#[tokio::test]
async fn writes_with_a_stale_if_match_are_412_and_change_nothing() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Shared").await;
    let stale = etag(task.id, 1);
    // Tab one updates with the current ETag; tab two still holds the old one.
    alice
        .put_task(task.id)
        .json(&json!({"title": "Tab one"}))
        .if_match(&stale)
        .expect(200)
        .await;
    let writes = [
        (
            "update",
            alice.put_task(task.id).json(&json!({"title": "Tab two"})),
        ),
        ("complete", alice.complete_task(task.id)),
        ("delete", alice.delete_task(task.id)),
    ];
    for (what, call) in writes {
        let problem = call.if_match(&stale).expect_problem(412).await;
        assert_eq!(problem.status, 412, "{what}");
    }
    let now = alice.get_task(task.id).expect(200).await.task();
    assert_eq!((now.title.as_str(), now.completed), ("Tab one", false));
}

#[tokio::test]
async fn a_delete_with_the_current_if_match_succeeds() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Shared").await;
    let current = alice.get_task(task.id).send().await.etag();
    alice
        .delete_task(task.id)
        .if_match(&current)
        .expect(204)
        .await;
}

#[tokio::test]
async fn fifty_concurrent_updates_with_one_if_match_let_exactly_one_through() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Contended").await;
    let updates: Vec<_> = (0..50)
        .map(|i| {
            let call = alice
                .put_task(task.id)
                .if_match(&etag(task.id, 1))
                .json(&json!({"title": format!("writer {i}")}));
            tokio::spawn(call.send())
        })
        .collect();
    let mut statuses = Vec::new();
    for u in updates {
        statuses.push(u.await.unwrap().status());
    }
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    assert_eq!((count(200), count(412)), (1, 49), "{statuses:?}");
}

#[tokio::test]
async fn a_create_retried_with_its_idempotency_key_is_replayed_and_creates_one_task() {
    let (app, alice) = with_alice().await;
    let create = || {
        alice
            .create_task()
            .idempotency_key("key-1")
            .json(&json!({"title": "Once"}))
    };
    let first = create().expect(201).await;
    let retry = create().expect(201).await;
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(retry.value(), first.value());
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn a_retried_create_is_replayed_whatever_fields_its_body_holds() {
    let (app, alice) = with_alice().await;
    let bodies = [
        json!({"title": "a"}),
        json!({"title": "a", "description": "b"}),
        json!({"title": "a", "description": null}),
        json!({"title": "a", "due_date": "2026-12-01"}),
        json!({"title": "a", "due_date": "2026-12-01T09:30:00+02:00"}),
        json!({"title": "a", "priority": "High"}),
        json!({"title": "a", "tags": " home, garden,,Home "}),
        json!({"title": "a", "recursion_pattern": "every 2 weeks"}),
        json!({"title": "a", "completed": false}),
        json!({"title": "a", "completed": true}),
        json!({
            "title": "  Water the plants  ",
            "description": "balcony",
            "due_date": "2026-12-01T09:30:00+02:00",
            "priority": "Low",
            "tags": "home",
            "recursion_pattern": "daily",
            "completed": true,
        }),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let create = || {
            alice
                .create_task()
                .idempotency_key(&format!("key-{i}"))
                .json(body)
        };
        let first = create().expect(201).await;
        let retry = create().send().await;
        assert_eq!(retry.status(), 201, "{body}: {}", retry.text());
        assert_eq!(retry.header("location"), first.header("location"), "{body}");
        assert_eq!(retry.value(), first.value(), "{body}");
    }
    // What the server sets is left out of the comparison; what the client chose is not.
    let reopened = alice
        .create_task()
        .idempotency_key("key-9")
        .json(&json!({"title": "a", "completed": false}))
        .expect_problem(422)
        .await;
    assert_eq!(reopened.fields(), ["Idempotency-Key"]);
    assert_eq!(app.task_count().await, bodies.len() as i64);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_422_naming_the_key() {
    let (app, alice) = with_alice().await;
    for (title, status) in [("Once", 201), ("Something else", 422)] {
        let reply = alice
            .create_task()
            .idempotency_key("key-1")
            .json(&json!({"title": title}))
            .send()
            .await;
        if status == 422 {
            assert_eq!(reply.assert_problem(422).fields(), ["Idempotency-Key"]);
        } else {
            reply.assert_status(status);
        }
    }
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn idempotency_keys_belong_to_their_user() {
    let (app, alice) = with_alice().await;
    let bob = app.sign_up("bob").await;
    for user in [&alice, &bob] {
        user.create_task()
            .idempotency_key("key-1")
            .json(&json!({"title": "Once"}))
            .expect(201)
            .await;
    }
    assert_eq!(app.task_count().await, 2);
}

#[tokio::test]
async fn an_empty_or_overlong_idempotency_key_is_400() {
    let (app, alice) = with_alice().await;
    for key in [String::new(), "k".repeat(256)] {
        alice
            .create_task()
            .idempotency_key(&key)
            .json(&json!({"title": "x"}))
            .expect_problem(400)
            .await;
    }
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn concurrent_creates_with_one_idempotency_key_make_one_task() {
    let (app, alice) = with_alice().await;
    let creates: Vec<_> = (0..20)
        .map(|_| {
            let call = alice
                .create_task()
                .idempotency_key("same-key")
                .json(&json!({"title": "Only one"}));
            tokio::spawn(call.send())
        })
        .collect();
    let mut ids = Vec::new();
    for c in creates {
        ids.push(c.await.unwrap().assert_status(201).task().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn deleting_a_user_deletes_their_tasks_sessions_and_keys() {
    let (app, alice) = with_alice().await;
    let bob = app.sign_up("bob").await;
    alice.add_task("a1").await;
    bob.add_task("b1").await;
    alice
        .create_task()
        .idempotency_key("k")
        .json(&json!({"title": "a2"}))
        .expect(201)
        .await;
    sqlx::query(r#"DELETE FROM "user" WHERE id = $1"#)
        .bind(alice.id as i32)
        .execute(&app.pool)
        .await
        .unwrap();
    for table in ["task", "session", "idempotency_key"] {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE user_id = $1"
        )))
        .bind(alice.id as i32)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(count, 0, "{table}");
    }
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn two_hundred_concurrent_toggles_end_where_their_count_says() {
    let (app, alice) = with_alice().await;
    let task = alice.add_task("Flip").await;
    let toggles: Vec<_> = (0..200)
        .map(|_| tokio::spawn(alice.complete_task(task.id).send()))
        .collect();
    let mut completed_answers = 0;
    for t in toggles {
        completed_answers += usize::from(t.await.unwrap().assert_status(200).task().completed);
    }
    // Each toggle saw the previous one's result: half the answers say completed.
    assert_eq!(completed_answers, 100);
    let (completed, version): (bool, i32) = sqlx::query_as("SELECT completed, version FROM task")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((completed, version), (false, 201));
}

#[tokio::test]
async fn a_nul_or_a_null_where_none_may_be_is_a_422_naming_the_field() {
    // Found by the fuzzer. NUL cannot be stored in PostgreSQL text: a 422, never a 500.
    let (app, alice) = with_alice().await;
    for (field, body) in [
        ("title", json!({"title": "a\u{0}b"})),
        (
            "description",
            json!({"title": "ok", "description": "a\u{0}b"}),
        ),
        ("tags", json!({"title": "ok", "tags": "a\u{0}b"})),
        ("completed", json!({"title": "ok", "completed": null})),
        ("priority", json!({"title": "ok", "priority": null})),
        ("due_date", json!({"title": "ok", "due_date": ""})),
    ] {
        let problem = alice.create_task().json(&body).expect_problem(422).await;
        assert_eq!(
            problem.fields().first().copied(),
            Some(field),
            "{problem:?}"
        );
    }
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn a_search_for_a_nul_is_422() {
    let (_app, alice) = with_alice().await;
    alice
        .list_tasks()
        .query("q=a%00b")
        .expect_problem(422)
        .await;
}

#[tokio::test]
async fn a_bad_body_is_reported_before_a_precondition_is_looked_at() {
    let (_app, alice) = with_alice().await;
    let task = alice.add_task("Fuzzed").await;
    alice
        .put_task(task.id)
        .if_match("\"stale\"")
        .json(&json!({"completed": null}))
        .expect_problem(422)
        .await;
}

#[tokio::test]
async fn an_empty_if_match_is_400_and_one_that_is_no_current_etag_is_412() {
    let (app, alice) = with_alice().await;
    let task = alice.add_task("Fuzzed").await;
    for (if_match, status) in [("", 400), ("\"0\"", 412)] {
        alice
            .delete_task(task.id)
            .if_match(if_match)
            .expect_problem(status)
            .await;
    }
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn a_method_a_task_path_lacks_is_405_listing_the_ones_it_has() {
    let (app, alice) = with_alice().await;
    let task = alice.add_task("Fuzzed").await;
    let reply = alice
        .call(reqwest::Method::POST, &alice.task_path(task.id))
        .expect(405)
        .await;
    assert_eq!(
        reply.header("allow"),
        Some("DELETE, GET, PUT, HEAD, OPTIONS")
    );
    assert_eq!(app.task_count().await, 1);
}

#[test]
fn the_spec_carries_the_domain_rules_as_patterns() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let create = &spec["components"]["schemas"]["CreateTask"]["properties"];
    for (field, pattern) in [
        ("due_date", todo_api::domain::due_date::PATTERN),
        ("recursion_pattern", todo_api::domain::recurrence::PATTERN),
        ("title", todo_api::domain::task::TITLE_PATTERN),
        ("tags", todo_api::domain::task::TAGS_PATTERN),
    ] {
        assert_eq!(create[field]["pattern"], pattern, "{field}");
    }
    assert_eq!(create["title"]["maxLength"], 200);
    assert_eq!(create["description"]["nullable"], true);
    let register = &spec["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(
        register["email"]["pattern"],
        todo_api::domain::user::EMAIL_PATTERN
    );
}
