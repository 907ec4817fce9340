//! The original backend's account routes: same operations, original shapes, marked
//! deprecated with a link to their successors; and tokens the original backend issued.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{JWT_SECRET, TestApp, problem};

async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get_bearer(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post_bearer(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Asserts the deprecation marks of a legacy route's answer.
fn assert_deprecated(response: &reqwest::Response, successor: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let deprecation = header("deprecation");
    assert!(
        deprecation.starts_with('@') && deprecation[1..].parse::<i64>().is_ok(),
        "Deprecation: {deprecation:?}"
    );
    assert_eq!(
        header("link"),
        format!("<{successor}>; rel=\"successor-version\"")
    );
}

fn credentials(name: &str) -> Value {
    json!({"username": name, "email": format!("{name}@example.com"), "password": format!("password-of-{name}")})
}

#[tokio::test]
async fn both_legacy_registration_routes_create_the_account_and_log_in() {
    let app = TestApp::spawn().await;
    for (path, name) in [("/api/register", "alice"), ("/auth/signup", "Bob_2")] {
        let response = post(&app, path, &credentials(name)).await;
        assert_eq!(response.status(), 201, "{path}");
        assert_deprecated(&response, "/api/auth/register");
        let body: Value = response.json().await.unwrap();
        let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["access_token", "email", "token_type", "user_id", "username"],
            "{body}"
        );
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["username"], name);
        assert_eq!(
            body["email"],
            format!("{}@example.com", name.to_lowercase())
        );
        let user_id = body["user_id"].as_str().expect("user_id is a string");
        let token = body["access_token"].as_str().unwrap();
        let me = get_bearer(&app, "/api/auth/me", token).await;
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["id"].to_string(), user_id);
    }
}

#[tokio::test]
async fn every_legacy_login_route_answers_the_original_shape_with_a_working_token() {
    let app = TestApp::spawn().await;
    let created = post(&app, "/api/auth/register", &credentials("carol")).await;
    assert_eq!(created.status(), 201);
    let user_id = created.json::<Value>().await.unwrap()["id"].to_string();
    let json_body = json!({"email": "Carol@Example.com", "password": "password-of-carol"});
    let form = [
        ("grant_type", "password"),
        ("username", "carol@example.com"),
        ("password", "password-of-carol"),
    ];
    let attempts = [
        ("/api/login", post(&app, "/api/login", &json_body).await),
        ("/api/token", post(&app, "/api/token", &json_body).await),
        (
            "/api/token (form)",
            app.client
                .post(app.url("/api/token"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        ),
        ("/auth/login", post(&app, "/auth/login", &json_body).await),
    ];
    for (route, response) in attempts {
        assert_eq!(response.status(), 200, "{route}");
        assert_deprecated(&response, "/api/auth/login");
        let body: Value = response.json().await.unwrap();
        let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["access_token", "token_type", "user_id"], "{route}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["user_id"].as_str(), Some(user_id.as_str()), "{route}");
        let token = body["access_token"].as_str().unwrap();
        for me in ["/api/me", "/auth/me", "/api/auth/me"] {
            let response = get_bearer(&app, me, token).await;
            assert_eq!(response.status(), 200, "{route} then {me}");
            if me != "/api/auth/me" {
                assert_deprecated(&response, "/api/auth/me");
            }
            let user: Value = response.json().await.unwrap();
            assert_eq!(user["username"], "carol");
            assert_eq!(user["id"].to_string(), user_id);
            assert!(user.get("hashed_password").is_none());
        }
    }
}

#[tokio::test]
async fn legacy_errors_are_problems_and_carry_the_deprecation_marks_too() {
    let app = TestApp::spawn().await;
    assert_eq!(
        post(&app, "/api/register", &credentials("dave"))
            .await
            .status(),
        201
    );
    let again = post(&app, "/auth/signup", &credentials("dave")).await;
    assert_deprecated(&again, "/api/auth/register");
    problem(again, 409).await;

    let bad = json!({"username": "d", "email": "nope", "password": "short"});
    let invalid = post(&app, "/api/register", &bad).await;
    assert_deprecated(&invalid, "/api/auth/register");
    let body = problem(invalid, 422).await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 3, "{body}");

    let wrong = json!({"email": "dave@example.com", "password": "not-the-password"});
    for path in ["/api/login", "/api/token", "/auth/login"] {
        let response = post(&app, path, &wrong).await;
        assert_deprecated(&response, "/api/auth/login");
        let body = problem(response, 401).await;
        assert_eq!(body["detail"], "Invalid email or password.");
    }
    let form = app
        .client
        .post(app.url("/api/token"))
        .form(&[
            ("username", "dave@example.com"),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .unwrap();
    problem(form, 401).await;

    for path in ["/api/me", "/auth/me"] {
        let response = app.get(path).await;
        assert_deprecated(&response, "/api/auth/me");
        problem(response, 401).await;
    }
    let response = post_bearer(&app, "/api/logout", "not-a-token").await;
    assert_deprecated(&response, "/api/auth/logout");
    problem(response, 401).await;
}

#[tokio::test]
async fn legacy_logout_answers_the_original_message_and_revokes_the_session() {
    let app = TestApp::spawn().await;
    let registered = post(&app, "/api/register", &credentials("erin")).await;
    let token = registered.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = post_bearer(&app, "/api/logout", &token).await;
    assert_eq!(response.status(), 200);
    assert_deprecated(&response, "/api/auth/logout");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "Logout successful"})
    );
    for path in ["/api/me", "/auth/me", "/api/auth/me"] {
        problem(get_bearer(&app, path, &token).await, 401).await;
    }
    problem(post_bearer(&app, "/api/logout", &token).await, 401).await;
}

#[tokio::test]
async fn canonical_routes_carry_no_deprecation_marks() {
    let app = TestApp::spawn().await;
    let response = post(&app, "/api/auth/register", &credentials("fay")).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("deprecation").is_none());
    assert!(response.headers().get("link").is_none());
}

#[test]
fn the_document_marks_every_legacy_route_deprecated_under_the_legacy_tag() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let legacy = [
        ("/api/register", "post"),
        ("/auth/signup", "post"),
        ("/api/login", "post"),
        ("/api/token", "post"),
        ("/auth/login", "post"),
        ("/api/me", "get"),
        ("/auth/me", "get"),
        ("/api/logout", "post"),
    ];
    for (path, method) in legacy {
        let op = &spec["paths"][path][method];
        assert_eq!(op["deprecated"], true, "{path}");
        assert_eq!(op["tags"], json!(["Legacy"]), "{path}");
    }
    let token_body = &spec["paths"]["/api/token"]["post"]["requestBody"]["content"];
    assert!(token_body["application/x-www-form-urlencoded"].is_object());
    let deprecated: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .iter()
                .filter(|(_, op)| op["deprecated"] == true)
                .map(move |(method, _)| format!("{method} {path}"))
        })
        .collect();
    assert_eq!(deprecated.len(), legacy.len(), "{deprecated:?}");
}

/// A token exactly as the original backend minted it: HS256 with its `SECRET_KEY`, `sub`
/// the user id as a string, a `jti`, an `exp` and no `iat`; and its session row, whose
/// `token` is the SHA-256 hex of the token and whose times are naive UTC.
async fn original_backend_login(app: &TestApp, user_id: i64) -> String {
    let jti = uuid::Uuid::new_v4().to_string();
    let expires = Utc::now() + chrono::Duration::minutes(30);
    let claims = json!({"sub": user_id.to_string(), "exp": expires.timestamp(), "jti": jti});
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let fingerprint = hex::encode(Sha256::digest(token.as_bytes()));
    sqlx::query(
        "INSERT INTO session (user_id, token_jti, token, expires_at, revoked, created_at)
         VALUES ($1, $2, $3, $4, false, $5)",
    )
    .bind(i32::try_from(user_id).unwrap())
    .bind(&jti)
    .bind(&fingerprint)
    .bind(expires.naive_utc())
    .bind(Utc::now().naive_utc())
    .execute(&app.pool)
    .await
    .unwrap();
    token
}

#[tokio::test]
async fn a_token_the_original_backend_issued_works_everywhere_until_logout_revokes_it() {
    let app = TestApp::spawn().await;
    // An account the original backend created: a bcrypt hash, inserted directly.
    let hash = bcrypt::hash("password-of-gus", 4).unwrap();
    let user_id: i32 = sqlx::query_scalar(
        r#"INSERT INTO "user" (username, email, hashed_password) VALUES ('gus', 'gus@example.com', $1)
           RETURNING id"#,
    )
    .bind(&hash)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let user_id = i64::from(user_id);
    let token = original_backend_login(&app, user_id).await;
    let tasks = format!("/api/{user_id}/tasks");

    for path in ["/api/auth/me", "/api/me", "/auth/me"] {
        let response = get_bearer(&app, path, &token).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["username"], "gus");
    }
    let created = app
        .client
        .post(app.url(&tasks))
        .bearer_auth(&token)
        .json(&json!({"title": "Made with an old token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let listed = get_bearer(&app, &tasks, &token).await;
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed[0]["title"], "Made with an old token");

    let logout = post_bearer(&app, "/api/logout", &token).await;
    assert_eq!(logout.status(), 200);
    for path in ["/api/auth/me", "/api/me", "/auth/me", tasks.as_str()] {
        problem(get_bearer(&app, path, &token).await, 401).await;
    }
    let revoked: bool = sqlx::query_scalar("SELECT revoked FROM session WHERE user_id = $1")
        .bind(i32::try_from(user_id).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(revoked);

    // Another old token for the same account, revoked through the canonical route.
    let second = original_backend_login(&app, user_id).await;
    assert_eq!(get_bearer(&app, &tasks, &second).await.status(), 200);
    assert_eq!(
        post_bearer(&app, "/api/auth/logout", &second)
            .await
            .status(),
        204
    );
    problem(get_bearer(&app, &tasks, &second).await, 401).await;
}

#[tokio::test]
async fn an_old_token_signed_with_another_secret_or_without_its_session_is_refused() {
    let app = TestApp::spawn().await;
    let registered = post(&app, "/api/register", &credentials("hal")).await;
    let user_id: i64 = registered.json::<Value>().await.unwrap()["user_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let token = original_backend_login(&app, user_id).await;
    sqlx::query("DELETE FROM session WHERE user_id = $1")
        .bind(i32::try_from(user_id).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    problem(get_bearer(&app, "/api/me", &token).await, 401).await;

    let claims =
        json!({"sub": user_id.to_string(), "exp": Utc::now().timestamp() + 600, "jti": "x"});
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"some-other-secret-some-other-secret!"),
    )
    .unwrap();
    problem(get_bearer(&app, "/api/me", &forged).await, 401).await;
}
