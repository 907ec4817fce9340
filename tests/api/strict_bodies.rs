//! Bodies are read only as sent (a key given twice, or a content coding, is refused rather
//! than guessed at), and a user's own data is answered as private to their client.

use serde_json::{Value, json};

use crate::helpers::{Call, TestApp, User};

/// A server with Alice signed up and one task of hers.
async fn with_alice_and_a_task() -> (TestApp, User, i64) {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("Water the plants").await.id;
    (app, alice, task)
}

fn raw_json(call: Call, body: &str) -> Call {
    call.header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
}

#[tokio::test]
async fn a_body_giving_a_key_twice_is_400_naming_the_key_and_changes_nothing() {
    let (app, alice, task) = with_alice_and_a_task().await;
    let cases = [
        (alice.create_task(), r#"{"title":"a","title":"b"}"#, "title"),
        (
            alice.create_task(),
            r#"{"title":"a","priority":"Low","priority":"High"}"#,
            "priority",
        ),
        (
            alice.put_task(task),
            r#"{"title":"a","title":"b"}"#,
            "title",
        ),
        (
            alice.complete_task(task),
            r#"{"completed":true,"completed":false}"#,
            "completed",
        ),
        (
            app.register("bob", "bob@example.com", "correct horse"),
            r#"{"username":"bob","email":"bob@example.com","email":"eve@example.com","password":"correct horse"}"#,
            "email",
        ),
        (
            app.login("alice@example.com", "x"),
            r#"{"email":"alice@example.com","password":"x","password":"y"}"#,
            "password",
        ),
    ];
    for (call, body, key) in cases {
        let problem = raw_json(call, body).expect_problem(400).await;
        assert_eq!(problem.fields(), [key], "{body}");
        assert!(
            problem.detail.contains(&format!("`{key}`")),
            "{body}: {problem:?}"
        );
    }
    let unchanged = alice.get_task(task).expect(200).await.task();
    assert_eq!(
        (unchanged.title.as_str(), unchanged.completed),
        ("Water the plants", false)
    );
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn a_key_repeated_in_different_objects_is_not_a_duplicate() {
    let (_app, alice, _task) = with_alice_and_a_task().await;
    // Unknown fields are ignored, whatever they hold.
    let body = r#"{"title":"a","x":{"title":"b"},"y":[{"title":"c"},{"title":"d"}]}"#;
    let created = raw_json(alice.create_task(), body).expect(201).await.task();
    assert_eq!(created.title, "a");
}

#[tokio::test]
async fn a_body_with_a_content_encoding_is_415_and_changes_nothing() {
    let (app, alice, task) = with_alice_and_a_task().await;
    let title = json!({"title": "a"});
    let cases = [
        (alice.create_task().json(&title), "gzip"),
        (alice.create_task().json(&title), "br"),
        (alice.create_task().json(&title), "identity, deflate"),
        (alice.put_task(task).json(&title), "gzip"),
        (alice.complete_task(task), "gzip"),
        (
            app.register("bob", "bob@example.com", "correct horse"),
            "gzip",
        ),
        (app.login("alice@example.com", "correct horse"), "gzip"),
        (
            app.post("/api/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("username=alice%40example.com&password=correct+horse"),
            "gzip",
        ),
    ];
    for (call, coding) in cases {
        let reply = call.header("content-encoding", coding).send().await;
        assert_eq!(
            reply.header("accept-encoding"),
            Some("identity"),
            "{coding}"
        );
        let problem = reply.assert_problem(415);
        assert!(problem.detail.contains("Content-Encoding"), "{problem:?}");
    }
    let unchanged = alice.get_task(task).expect(200).await.task();
    assert_eq!(
        (unchanged.title.as_str(), unchanged.completed),
        ("Water the plants", false)
    );
    assert_eq!(app.task_count().await, 1);
}

#[tokio::test]
async fn a_body_sent_as_identity_is_read() {
    let (_app, alice, _task) = with_alice_and_a_task().await;
    alice
        .create_task()
        .json(&json!({"title": "a"}))
        .header("content-encoding", "identity")
        .expect(201)
        .await;
}

#[tokio::test]
async fn lists_tasks_and_the_account_are_private_and_revalidated() {
    let (app, alice, task) = with_alice_and_a_task().await;
    let list = alice.list_tasks().expect(200).await;
    let one = alice.get_task(task).expect(200).await;
    let mut replies = vec![
        alice
            .list_tasks()
            .if_none_match(&list.etag())
            .expect(304)
            .await,
        alice
            .get_task(task)
            .if_none_match(&one.etag())
            .expect(304)
            .await,
        list,
        one,
    ];
    let me = alice.me().expect(200).await;
    let etag = me.etag();
    replies.push(me);
    replies.push(alice.me().if_none_match(&etag).expect(304).await);
    replies.push(alice.me().if_none_match("W/\"other\"").expect(200).await);
    for legacy in ["/api/me", "/auth/me"] {
        let call = || app.get(legacy).bearer(&alice.token);
        let reply = call().expect(200).await;
        assert_eq!(reply.etag(), etag, "{legacy}");
        replies.push(reply);
        replies.push(call().if_none_match(&etag).expect(304).await);
    }
    // Another account is another ETag.
    let bob = app.sign_up("bob").await;
    assert_ne!(bob.me().expect(200).await.etag(), etag);
    for reply in replies {
        assert_eq!(reply.header("cache-control"), Some("private, no-cache"));
    }
}

#[tokio::test]
async fn the_spec_lists_415_for_every_operation_that_reads_a_body() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let operations = [
        ("/api/{user_id}/tasks", "post"),
        ("/api/{user_id}/tasks/{id}", "put"),
        ("/api/{user_id}/tasks/{id}/complete", "patch"),
        ("/api/auth/register", "post"),
        ("/api/auth/login", "post"),
    ];
    for (path, method) in operations {
        let refused = &spec["paths"][path][method]["responses"]["415"];
        assert!(
            refused["content"]["application/problem+json"].is_object(),
            "{path} {method}"
        );
        assert!(has_header(refused, "Accept-Encoding"), "{path} {method}");
    }
    for path in [
        "/api/{user_id}/tasks",
        "/api/{user_id}/tasks/{id}",
        "/api/auth/me",
    ] {
        let ok = &spec["paths"][path]["get"]["responses"]["200"];
        assert!(has_header(ok, "Cache-Control"), "{path}");
    }
}

/// Whether a documented response names the header `name` (in any case: poem-openapi writes
/// its own in capitals).
fn has_header(response: &Value, name: &str) -> bool {
    response["headers"]
        .as_object()
        .is_some_and(|headers| headers.keys().any(|h| h.eq_ignore_ascii_case(name)))
}
