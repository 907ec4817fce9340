//! Hostile requests: unreadable conditional headers, refused origins, oversized requests,
//! forged tokens, and the headers every response carries.

use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, TestApp, User, problem, until_live};

/// Unreadable values of a conditional header: a non-ASCII byte, and bad syntax.
fn malformed() -> Vec<HeaderValue> {
    vec![
        HeaderValue::from_bytes(b"\"1-1\xff\"").unwrap(),
        HeaderValue::from_static("1-1"),
        HeaderValue::from_static("\"1-1"),
        HeaderValue::from_static("W/1-1"),
    ]
}

/// Alice, and the URL of a task of hers whose first ETag is stale: (url, stale ETag).
async fn alice_with_a_changed_task(app: &TestApp) -> (User, String, String) {
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("Original").await;
    alice
        .put_task(task.id)
        .json(&json!({"title": "Current"}))
        .expect(200)
        .await;
    let url = app.task_url(alice.id, task.id);
    (alice, url, format!("\"{}-1\"", task.id))
}

async fn title_of(app: &TestApp, alice: &User, url: &str) -> String {
    let got: Value = app
        .client
        .get(url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    got["title"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stale_put_with_an_unreadable_if_match_is_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (alice, url, _) = alice_with_a_changed_task(&app).await;
    for value in malformed() {
        let response = app
            .client
            .put(&url)
            .bearer_auth(&alice.token)
            .header("if-match", value.clone())
            .json(&json!({"title": "Overwritten"}))
            .send()
            .await
            .unwrap();
        let body = problem(response, 400).await;
        assert_eq!(body["errors"][0]["field"], "If-Match", "{value:?}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("If-Match"));
    }
    assert_eq!(title_of(&app, &alice, &url).await, "Current");
}

#[tokio::test]
async fn a_stale_delete_or_complete_with_an_unreadable_if_match_is_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (alice, url, stale) = alice_with_a_changed_task(&app).await;
    for value in malformed() {
        let deleted = app
            .client
            .delete(&url)
            .bearer_auth(&alice.token)
            .header("if-match", value.clone())
            .send()
            .await
            .unwrap();
        problem(deleted, 400).await;
        let completed = app
            .client
            .patch(format!("{url}/complete"))
            .bearer_auth(&alice.token)
            .header("if-match", value)
            .send()
            .await
            .unwrap();
        problem(completed, 400).await;
    }
    assert_eq!(title_of(&app, &alice, &url).await, "Current");
    // The well-formed stale ETag is still a 412.
    let deleted = app
        .client
        .delete(&url)
        .bearer_auth(&alice.token)
        .header("if-match", stale)
        .send()
        .await
        .unwrap();
    problem(deleted, 412).await;
}

#[tokio::test]
async fn an_unreadable_if_none_match_is_400() {
    let app = TestApp::spawn().await;
    let (alice, url, _) = alice_with_a_changed_task(&app).await;
    for target in [url.clone(), app.tasks_url(alice.id)] {
        for value in malformed() {
            let response = app
                .client
                .get(&target)
                .bearer_auth(&alice.token)
                .header("if-none-match", value)
                .send()
                .await
                .unwrap();
            let body = problem(response, 400).await;
            assert_eq!(body["errors"][0]["field"], "If-None-Match");
        }
    }
}

#[tokio::test]
async fn without_a_token_an_unreadable_conditional_header_is_still_401() {
    let app = TestApp::spawn().await;
    let (alice, url, _) = alice_with_a_changed_task(&app).await;
    for value in malformed() {
        for (method, name) in [
            ("GET", "if-none-match"),
            ("PUT", "if-match"),
            ("DELETE", "if-match"),
        ] {
            let request = app
                .client
                .request(method.parse().unwrap(), &url)
                .header(name, value.clone())
                .json(&json!({"title": "Hijacked"}));
            problem(request.send().await.unwrap(), 401).await;
        }
    }
    assert_eq!(title_of(&app, &alice, &url).await, "Current");
}

#[tokio::test]
async fn a_method_the_route_lacks_is_405_whatever_its_conditional_headers() {
    let app = TestApp::spawn().await;
    let (alice, url, _) = alice_with_a_changed_task(&app).await;
    for method in ["TRACE", "POST"] {
        let response = app
            .client
            .request(method.parse().unwrap(), &url)
            .bearer_auth(&alice.token)
            .header("if-match", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method}");
    }
}

#[tokio::test]
async fn a_conditional_header_an_operation_does_not_read_is_not_looked_at() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for value in malformed() {
        let response = app
            .client
            .get(app.url(&format!("/api/{}/tasks/changes", alice.id)))
            .bearer_auth(&alice.token)
            .header("if-none-match", value.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        // The account revalidates by ETag: there it is read, and refused.
        let response = app
            .client
            .get(app.url("/api/auth/me"))
            .bearer_auth(&alice.token)
            .header("if-none-match", value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
    }
}

#[tokio::test]
async fn a_create_retried_with_an_unreadable_idempotency_key_is_400_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let keys = [
        HeaderValue::from_bytes(b"key-\xe9").unwrap(),
        HeaderValue::from_static("key with spaces"),
        HeaderValue::from_str(&"k".repeat(256)).unwrap(),
    ];
    for key in keys {
        for _ in 0..2 {
            let response = app
                .client
                .post(app.tasks_url(alice.id))
                .bearer_auth(&alice.token)
                .header("idempotency-key", key.clone())
                .json(&json!({"title": "Once"}))
                .send()
                .await
                .unwrap();
            let body = problem(response, 400).await;
            assert_eq!(body["errors"][0]["field"], "Idempotency-Key");
        }
    }
    assert_eq!(app.task_count().await, 0);
}

#[tokio::test]
async fn a_refused_origin_gets_a_problem_with_a_request_id() {
    let app = TestApp::spawn().await;
    for request in [
        app.client.get(app.url("/health/live")),
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/1/tasks"))
            .header("access-control-request-method", "GET"),
    ] {
        let response = request
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(response.headers().contains_key("x-request-id"));
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin")
        );
        let body = problem(response, 403).await;
        assert!(
            body["detail"].as_str().unwrap().contains("origin"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_overlong_url_is_a_414_problem_and_oversized_headers_a_431_problem() {
    let app = TestApp::spawn().await;
    app.get(&format!("/health/live?q={}", "a".repeat(9000)))
        .expect_problem(414)
        .await;
    app.get("/health/live")
        .header("x-padding", &"b".repeat(40 * 1024))
        .expect_problem(431)
        .await;
}

#[tokio::test]
async fn every_response_forbids_content_sniffing() {
    let app = TestApp::spawn().await;
    for path in [
        "/health/live",
        "/nowhere",
        "/openapi.json",
        "/docs",
        "/api/auth/me",
    ] {
        let reply = app.get(path).await;
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_token_claiming_rs256_is_refused() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let enc = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": alice.id.to_string(), "jti": "x", "iat": now, "exp": now + 600});
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(JWT_SECRET);
    let forged = format!(
        "{}.{}.{signature}",
        enc(&json!({"alg": "RS256", "typ": "JWT"})),
        enc(&claims)
    );
    let response = app
        .client
        .get(app.url("/api/auth/me"))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    problem(response, 401).await;
}

#[tokio::test]
async fn text_logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let db = crate::helpers::TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let out = crate::helpers::run_binary(
        &["migrate"],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", JWT_SECRET),
            ("LOG_FORMAT", "text"),
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("INFO"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[tokio::test]
async fn request_log_lines_name_the_client_address() {
    let db = crate::helpers::TestDb::create().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .env_clear()
        .envs([
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", JWT_SECRET),
            ("PORT", port.as_str()),
            ("LOG_FORMAT", "json"),
        ])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_live(&format!("http://127.0.0.1:{port}")).await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let line = err
        .lines()
        .find(|l| l.contains("request finished") && l.contains("/health/live"))
        .unwrap_or_else(|| panic!("no request line in {err}"));
    let line: Value = serde_json::from_str(line).unwrap();
    assert_eq!(line["span"]["client"], "127.0.0.1", "{line}");
}
