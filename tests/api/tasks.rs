//! The task routes: success paths, ownership, field rules, updates, completion and
//! recurrence, conditional requests and idempotent creates.

use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

/// A logged-in user of a test server.
pub struct User {
    pub id: i64,
    pub token: String,
}

impl TestApp {
    pub async fn login_user(&self, name: &str) -> User {
        let (id, token) = self.user(name).await;
        User { id, token }
    }

    pub fn tasks_url(&self, user: i64) -> String {
        self.url(&format!("/api/{user}/tasks"))
    }

    pub fn task_url(&self, user: i64, id: i64) -> String {
        self.url(&format!("/api/{user}/tasks/{id}"))
    }

    pub async fn create_task(&self, user: &User, body: Value) -> Value {
        let response = self
            .client
            .post(self.tasks_url(user.id))
            .bearer_auth(&user.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    pub async fn task_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM task")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

fn id(task: &Value) -> i64 {
    task["id"].as_i64().unwrap()
}

#[tokio::test]
async fn creating_a_task_returns_201_with_location_etag_and_every_field() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let response = app
        .client
        .post(app.tasks_url(alice.id))
        .bearer_auth(&alice.token)
        .json(&json!({
            "title": "  Water the plants  ",
            "description": "balcony",
            "due_date": "2026-12-01T09:30:00+02:00",
            "priority": "High",
            "tags": " home, garden,,Home ",
            "recursion_pattern": "every 2 weeks",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task: Value = response.json_with_headers().await;
    let headers = &task["headers"];
    let task = &task["body"];
    assert_eq!(
        headers["location"],
        format!("/api/{}/tasks/{}", alice.id, id(task))
    );
    assert_eq!(headers["etag"], format!("\"{}-1\"", id(task)));
    assert_eq!(task["title"], "Water the plants");
    assert_eq!(task["description"], "balcony");
    assert_eq!(task["due_date"], "2026-12-01T09:30:00+02:00");
    assert_eq!(task["priority"], "High");
    assert_eq!(task["tags"], "home,garden");
    assert_eq!(task["recursion_pattern"], "every 2 weeks");
    assert_eq!(task["completed"], false);
    assert_eq!(task["user_id"], alice.id);
    assert!(task["created_at"].as_str().unwrap().ends_with('Z'));

    // Only a title: the rest takes defaults, and the nullable fields are present as null.
    let minimal = app.create_task(&alice, json!({"title": "Minimal"})).await;
    assert_eq!(minimal["priority"], "Medium");
    for field in ["description", "due_date", "tags", "recursion_pattern"] {
        assert_eq!(minimal[field], Value::Null, "{field}");
    }
}

trait WithHeaders {
    async fn json_with_headers(self) -> Value;
}

impl WithHeaders for reqwest::Response {
    async fn json_with_headers(self) -> Value {
        let headers: serde_json::Map<String, Value> = self
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_str().unwrap().to_owned())))
            .collect();
        let body = self.json::<Value>().await.unwrap_or(Value::Null);
        json!({"headers": headers, "body": body})
    }
}

#[tokio::test]
async fn each_field_rule_is_a_422_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let tags = |n: usize| {
        (0..n)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["title"]),
        (json!({"title": ""}), vec!["title"]),
        (json!({"title": "   "}), vec!["title"]),
        (json!({"title": null}), vec!["title"]),
        (json!({"title": "x".repeat(201)}), vec!["title"]),
        (json!({"title": 42}), vec!["title"]),
        (
            json!({"title": "ok", "description": "d".repeat(5001)}),
            vec!["description"],
        ),
        (json!({"title": "ok", "priority": "high"}), vec!["priority"]),
        (
            json!({"title": "ok", "priority": "URGENT"}),
            vec!["priority"],
        ),
        (
            json!({"title": "ok", "due_date": "2026-02-30"}),
            vec!["due_date"],
        ),
        (
            json!({"title": "ok", "due_date": "tomorrow"}),
            vec!["due_date"],
        ),
        (
            json!({"title": "ok", "due_date": "2026-12-01T25:00:00Z"}),
            vec!["due_date"],
        ),
        (
            json!({"title": "ok", "due_date": "9".repeat(51)}),
            vec!["due_date"],
        ),
        (json!({"title": "ok", "tags": tags(21)}), vec!["tags"]),
        (json!({"title": "ok", "tags": "x".repeat(51)}), vec!["tags"]),
        (
            json!({"title": "ok", "recursion_pattern": "sometimes"}),
            vec!["recursion_pattern"],
        ),
        (
            json!({"title": "ok", "recursion_pattern": "every 0 days"}),
            vec!["recursion_pattern"],
        ),
        (
            json!({"title": "ok", "recursion_pattern": "x".repeat(101)}),
            vec!["recursion_pattern"],
        ),
        (
            json!({"title": "ok", "completed": "yes"}),
            vec!["completed"],
        ),
        (
            json!({"title": "", "priority": "low", "due_date": "soon", "tags": tags(21), "recursion_pattern": "often"}),
            vec!["title", "priority", "due_date", "tags", "recursion_pattern"],
        ),
    ];
    for (body, fields) in cases {
        let response = app
            .client
            .post(app.tasks_url(alice.id))
            .bearer_auth(&alice.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = problem(response, 422).await;
        let mut named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        named.sort_unstable();
        let mut expected = fields.clone();
        expected.sort_unstable();
        assert_eq!(named, expected, "{body}: {problem}");
    }
    assert_eq!(app.task_count().await, 0);
    // Within the limits is fine: 20 tags, a 50-character tag, 200 characters of title.
    app.create_task(&alice, json!({"title": "x".repeat(200), "tags": tags(20)}))
        .await;
    app.create_task(&alice, json!({"title": "ok", "tags": "x".repeat(50)}))
        .await;
}

#[tokio::test]
async fn hostile_text_is_stored_verbatim() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let evil = "\"; drop table task; --";
    let task = app
        .create_task(
            &alice,
            json!({"title": evil, "description": "<script>alert(1)</script>", "tags": "a'b,c\"d"}),
        )
        .await;
    assert_eq!(task["title"], evil);
    let stored: (String, String) = sqlx::query_as("SELECT title, tags FROM task")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, (evil.to_owned(), "a'b,c\"d".to_owned()));
}

#[tokio::test]
async fn malformed_bodies_are_400_and_large_ones_413() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let response = app
        .client
        .post(app.tasks_url(alice.id))
        .bearer_auth(&alice.token)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;
    let response = app
        .client
        .post(app.tasks_url(alice.id))
        .bearer_auth(&alice.token)
        .json(&json!({"title": "big", "description": "x".repeat(70 * 1024)}))
        .send()
        .await
        .unwrap();
    problem(response, 413).await;
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn get_put_delete_and_complete_succeed_on_ones_own_task() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Read"})).await;
    let url = app.task_url(alice.id, id(&task));

    let got = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["etag"], format!("\"{}-1\"", id(&task)));
    assert_eq!(got.json::<Value>().await.unwrap(), task);

    let put = app
        .client
        .put(&url)
        .bearer_auth(&alice.token)
        .json(&json!({"title": "Read more"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(put.headers()["etag"], format!("\"{}-2\"", id(&task)));
    let put: Value = put.json().await.unwrap();
    assert_eq!(put["title"], "Read more");
    assert!(put["updated_at"].as_str().unwrap() > task["updated_at"].as_str().unwrap());
    assert_eq!(put["created_at"], task["created_at"]);

    let done = app
        .client
        .patch(format!("{url}/complete"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(done.json::<Value>().await.unwrap()["completed"], true);

    let deleted = app
        .client
        .delete(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    problem(gone, 404).await;
    let again = app
        .client
        .delete(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    problem(again, 404).await;
}

#[tokio::test]
async fn another_users_url_is_403_and_another_users_task_is_404_on_all_six_routes() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let bob = app.login_user("bob").await;
    let alices = app.create_task(&alice, json!({"title": "Alice's"})).await;
    let bobs = app.create_task(&bob, json!({"title": "Bob's"})).await;

    // Bob's token on Alice's URLs: 403, whatever the task.
    let a = alice.id;
    let requests = |user: i64, task: i64, token: &str| {
        let c = &app.client;
        vec![
            ("list", c.get(app.tasks_url(user)).bearer_auth(token)),
            (
                "create",
                c.post(app.tasks_url(user))
                    .bearer_auth(token)
                    .json(&json!({"title": "x"})),
            ),
            ("get", c.get(app.task_url(user, task)).bearer_auth(token)),
            (
                "update",
                c.put(app.task_url(user, task))
                    .bearer_auth(token)
                    .json(&json!({"title": "x"})),
            ),
            (
                "complete",
                c.patch(format!("{}/complete", app.task_url(user, task)))
                    .bearer_auth(token),
            ),
            (
                "delete",
                c.delete(app.task_url(user, task)).bearer_auth(token),
            ),
        ]
    };
    for (what, request) in requests(a, id(&alices), &bob.token) {
        problem(request.send().await.unwrap(), 403).await;
        let _ = what;
    }
    // Alice's own URL with Bob's task id: 404 for the four routes that take an id, with the
    // body a task that does not exist at all gets.
    let missing = app
        .client
        .get(app.task_url(a, 999_999))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (what, request) in requests(a, id(&bobs), &alice.token) {
        if matches!(what, "list" | "create") {
            continue;
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{what}");
        assert_eq!(response.text().await.unwrap(), missing, "{what}");
    }
    // Nothing of Bob's changed.
    let (title, completed): (String, bool) =
        sqlx::query_as("SELECT title, completed FROM task WHERE id = $1")
            .bind(id(&bobs) as i32)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((title.as_str(), completed), ("Bob's", false));
    // No token at all: 401 on every route.
    for (what, request) in requests(a, id(&alices), "") {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{what}");
    }
    // A path id that is not a number is simply not found.
    let response = app
        .client
        .get(app.url(&format!("/api/{a}/tasks/abc")))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
}

#[tokio::test]
async fn put_replaces_present_fields_clears_nulls_and_keeps_absent_ones() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app
        .create_task(
            &alice,
            json!({"title": "T", "description": "D", "due_date": "2026-12-01", "priority": "High", "tags": "a,b", "recursion_pattern": "daily"}),
        )
        .await;
    let url = app.task_url(alice.id, id(&task));
    let put = |body: Value| {
        app.client
            .put(&url)
            .bearer_auth(&alice.token)
            .json(&body)
            .send()
    };

    let updated: Value = put(json!({"description": null, "tags": " c, c ,d"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["tags"], "c,d");
    assert_eq!(updated["title"], "T");
    assert_eq!(updated["due_date"], "2026-12-01");
    assert_eq!(updated["priority"], "High");
    assert_eq!(updated["recursion_pattern"], "daily");

    let updated: Value = put(
        json!({"due_date": null, "recursion_pattern": null, "priority": "Low", "completed": true}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(updated["due_date"], Value::Null);
    assert_eq!(updated["recursion_pattern"], Value::Null);
    assert_eq!(updated["priority"], "Low");
    assert_eq!(updated["completed"], true);

    // title and priority cannot be cleared; a bad field changes nothing at all.
    for body in [
        json!({"title": null}),
        json!({"priority": null}),
        json!({"title": "new", "due_date": "never"}),
    ] {
        problem(put(body.clone()).await.unwrap(), 422).await;
    }
    let now: Value = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now, updated);
    // An empty object changes nothing but is a valid update.
    let same: Value = put(json!({})).await.unwrap().json().await.unwrap();
    assert_eq!(same["title"], "T");
}

#[tokio::test]
async fn complete_without_a_body_toggles_and_with_one_sets() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Toggle me"})).await;
    let url = format!("{}/complete", app.task_url(alice.id, id(&task)));
    let patch = |body: Option<Value>| {
        let request = app.client.patch(&url).bearer_auth(&alice.token);
        match body {
            Some(b) => request.json(&b),
            None => request,
        }
        .send()
    };
    let completed = |r: Value| r["completed"].as_bool().unwrap();
    assert!(completed(patch(None).await.unwrap().json().await.unwrap()));
    assert!(!completed(patch(None).await.unwrap().json().await.unwrap()));
    assert!(completed(
        patch(Some(json!({"completed": true})))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    ));
    assert!(completed(
        patch(Some(json!({"completed": true})))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    ));
    assert!(!completed(
        patch(Some(json!({"completed": false})))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    ));
    problem(patch(Some(json!({"completed": "yes"}))).await.unwrap(), 422).await;
    problem(patch(Some(json!({}))).await.unwrap(), 422).await;
}

#[tokio::test]
async fn completing_a_recurring_task_creates_the_next_occurrence_once() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app
        .create_task(&alice, json!({"title": "Rent", "due_date": "2027-01-31", "recursion_pattern": "monthly", "tags": "home", "priority": "High"}))
        .await;
    let url = format!("{}/complete", app.task_url(alice.id, id(&task)));
    for _ in 0..5 {
        app.client
            .patch(&url)
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap();
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
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app
        .create_task(
            &alice,
            json!({"title": "Standup", "due_date": "2026-11-27", "recursion_pattern": "weekdays"}),
        )
        .await;
    let url = format!("{}/complete", app.task_url(alice.id, id(&task)));
    let toggles: Vec<_> = (0..20)
        .map(|_| {
            let request = app.client.patch(&url).bearer_auth(&alice.token).send();
            tokio::spawn(request)
        })
        .collect();
    for t in toggles {
        assert_eq!(t.await.unwrap().unwrap().status(), 200);
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
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app
        .create_task(
            &alice,
            json!({"title": "Stretch", "recursion_pattern": "daily"}),
        )
        .await;
    let url = format!("{}/complete", app.task_url(alice.id, id(&task)));
    app.client
        .patch(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    let due: Option<String> = sqlx::query_scalar("SELECT due_date FROM task WHERE id <> $1")
        .bind(id(&task) as i32)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    assert_eq!(due.as_deref(), Some(tomorrow.as_str()));
}

#[tokio::test]
async fn etags_answer_304_and_stale_if_match_is_412_changing_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Shared"})).await;
    let url = app.task_url(alice.id, id(&task));
    let etag = format!("\"{}-1\"", id(&task));

    let cached = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], etag.as_str());

    // Tab one updates with the current ETag; tab two still holds the old one.
    let first = app
        .client
        .put(&url)
        .bearer_auth(&alice.token)
        .header("if-match", &etag)
        .json(&json!({"title": "Tab one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = app
        .client
        .put(&url)
        .bearer_auth(&alice.token)
        .header("if-match", &etag)
        .json(&json!({"title": "Tab two"}))
        .send()
        .await
        .unwrap();
    problem(second, 412).await;
    let stale_toggle = app
        .client
        .patch(format!("{url}/complete"))
        .bearer_auth(&alice.token)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    problem(stale_toggle, 412).await;
    let stale_delete = app
        .client
        .delete(&url)
        .bearer_auth(&alice.token)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    problem(stale_delete, 412).await;
    let now: Value = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (now["title"].as_str(), now["completed"].as_bool()),
        (Some("Tab one"), Some(false))
    );

    let fresh = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    let current = fresh.headers()["etag"].to_str().unwrap().to_owned();
    let deleted = app
        .client
        .delete(&url)
        .bearer_auth(&alice.token)
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn fifty_concurrent_updates_with_one_if_match_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Contended"})).await;
    let url = app.task_url(alice.id, id(&task));
    let etag = format!("\"{}-1\"", id(&task));
    let updates: Vec<_> = (0..50)
        .map(|i| {
            let request = app
                .client
                .put(&url)
                .bearer_auth(&alice.token)
                .header("if-match", &etag)
                .json(&json!({"title": format!("writer {i}")}))
                .send();
            tokio::spawn(request)
        })
        .collect();
    let mut statuses = Vec::new();
    for u in updates {
        statuses.push(u.await.unwrap().unwrap().status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        49,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_idempotent_create_is_replayed_and_creates_one_task() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let send = |key: &str, body: Value| {
        app.client
            .post(app.tasks_url(alice.id))
            .bearer_auth(&alice.token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = send("key-1", json!({"title": "Once"})).await.unwrap();
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();
    let retry = send("key-1", json!({"title": "Once"})).await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["location"], location);
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(app.task_count().await, 1);

    let other_body = send("key-1", json!({"title": "Something else"}))
        .await
        .unwrap();
    let body = problem(other_body, 422).await;
    assert_eq!(body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.task_count().await, 1);

    // Keys belong to their user: Bob may use the same key.
    let bob = app.login_user("bob").await;
    let bobs = app
        .client
        .post(app.tasks_url(bob.id))
        .bearer_auth(&bob.token)
        .header("idempotency-key", "key-1")
        .json(&json!({"title": "Once"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), 201);
    assert_eq!(app.task_count().await, 2);

    // An unreadable key is a malformed request (400), not a field rule.
    problem(send("", json!({"title": "x"})).await.unwrap(), 400).await;
    problem(
        send(&"k".repeat(256), json!({"title": "x"})).await.unwrap(),
        400,
    )
    .await;
}

#[tokio::test]
async fn concurrent_creates_with_one_idempotency_key_make_one_task() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let creates: Vec<_> = (0..20)
        .map(|_| {
            let request = app
                .client
                .post(app.tasks_url(alice.id))
                .bearer_auth(&alice.token)
                .header("idempotency-key", "same-key")
                .json(&json!({"title": "Only one"}))
                .send();
            tokio::spawn(request)
        })
        .collect();
    let mut ids = Vec::new();
    for c in creates {
        let response = c.await.unwrap().unwrap();
        assert_eq!(response.status(), 201);
        ids.push(id(&response.json::<Value>().await.unwrap()));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn deleting_a_user_deletes_their_tasks_sessions_and_keys() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let bob = app.login_user("bob").await;
    app.create_task(&alice, json!({"title": "a1"})).await;
    app.create_task(&bob, json!({"title": "b1"})).await;
    app.client
        .post(app.tasks_url(alice.id))
        .bearer_auth(&alice.token)
        .header("idempotency-key", "k")
        .json(&json!({"title": "a2"}))
        .send()
        .await
        .unwrap();
    sqlx::query(r#"DELETE FROM "user" WHERE id = $1"#)
        .bind(alice.id as i32)
        .execute(&app.pool)
        .await
        .unwrap();
    let count = |table: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {table} WHERE user_id = $1"
            )))
            .bind(alice.id as i32)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(count("task").await, 0);
    assert_eq!(count("session").await, 0);
    assert_eq!(count("idempotency_key").await, 0);
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn two_hundred_concurrent_toggles_end_where_their_count_says() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Flip"})).await;
    let url = format!("{}/complete", app.task_url(alice.id, id(&task)));
    let toggles: Vec<_> = (0..200)
        .map(|_| tokio::spawn(app.client.patch(&url).bearer_auth(&alice.token).send()))
        .collect();
    let mut completed_answers = 0;
    for t in toggles {
        let response = t.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        completed_answers += usize::from(body["completed"] == true);
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
async fn what_the_fuzzer_found_stays_fixed() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Fuzzed"})).await;
    let url = app.task_url(alice.id, id(&task));
    // NUL cannot be stored in PostgreSQL text: a 422 naming the field, never a 500.
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
        let response = app
            .client
            .post(app.tasks_url(alice.id))
            .bearer_auth(&alice.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let body = problem(response, 422).await;
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    let search = app
        .client
        .get(format!("{}?q=a%00b", app.tasks_url(alice.id)))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    problem(search, 422).await;
    // A bad body is reported before a precondition is even looked at.
    let response = app
        .client
        .put(&url)
        .bearer_auth(&alice.token)
        .header("if-match", "\"stale\"")
        .json(&json!({"completed": null}))
        .send()
        .await
        .unwrap();
    problem(response, 422).await;
    // An empty conditional header is malformed (400); a valid ETag that is not current is
    // stale (412).
    let response = app
        .client
        .delete(&url)
        .bearer_auth(&alice.token)
        .header("if-match", "")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;
    let response = app
        .client
        .delete(&url)
        .bearer_auth(&alice.token)
        .header("if-match", "\"0\"")
        .send()
        .await
        .unwrap();
    problem(response, 412).await;
    // 405 says which methods the path has.
    let response = app
        .client
        .post(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers()["allow"],
        "DELETE, GET, PUT, HEAD, OPTIONS"
    );
    assert_eq!(app.task_count().await, 1);
}

#[test]
fn the_spec_carries_the_domain_rules_as_patterns() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let create = &spec["components"]["schemas"]["CreateTask"]["properties"];
    assert_eq!(
        create["due_date"]["pattern"],
        todo_api::domain::due_date::PATTERN
    );
    assert_eq!(
        create["recursion_pattern"]["pattern"],
        todo_api::domain::recurrence::PATTERN
    );
    assert_eq!(
        create["title"]["pattern"],
        todo_api::domain::task::TITLE_PATTERN
    );
    assert_eq!(
        create["tags"]["pattern"],
        todo_api::domain::task::TAGS_PATTERN
    );
    assert_eq!(create["title"]["maxLength"], 200);
    assert_eq!(create["description"]["nullable"], true);
    let register = &spec["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(
        register["email"]["pattern"],
        todo_api::domain::user::EMAIL_PATTERN
    );
}
