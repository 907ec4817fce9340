//! The original backend's account routes: same operations, original shapes, marked
//! deprecated with a link to their successors; and tokens the original backend issued.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Api, Call, JWT_SECRET, Reply, TestApp};

/// A request to `path` with `token`.
fn with_token(app: &Api, method: Method, path: &str, token: &str) -> Call {
    app.request(method, path).bearer(token)
}

/// An OAuth2 password form.
fn form(app: &Api, path: &str, fields: &[(&str, &str)]) -> Call {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('@', "%40")))
        .collect::<Vec<_>>()
        .join("&");
    app.post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

/// Asserts the deprecation marks of a legacy route's answer.
#[track_caller]
fn assert_deprecated(reply: &Reply, successor: &str) {
    let deprecation = reply.header("deprecation").unwrap_or_default();
    assert!(
        deprecation.starts_with('@') && deprecation[1..].parse::<i64>().is_ok(),
        "Deprecation: {deprecation:?}"
    );
    assert_eq!(
        reply.header("link").unwrap_or_default(),
        format!("<{successor}>; rel=\"successor-version\"")
    );
}

/// The keys of a JSON object, sorted.
fn keys(body: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn credentials(name: &str) -> Value {
    json!({"username": name, "email": format!("{name}@example.com"), "password": format!("password-of-{name}")})
}

#[tokio::test]
async fn both_legacy_registration_routes_create_the_account_and_log_in() {
    let app = TestApp::spawn().await;
    for (path, name) in [("/api/register", "alice"), ("/auth/signup", "Bob_2")] {
        let reply = app.post(path).json(&credentials(name)).expect(201).await;
        assert_deprecated(&reply, "/api/auth/register");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let body = reply.value();
        assert_eq!(
            keys(&body),
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
        let me = with_token(&app, Method::GET, "/api/auth/me", token)
            .expect(200)
            .await
            .value();
        assert_eq!(me["id"].to_string(), user_id);
    }
}

#[tokio::test]
async fn every_legacy_login_route_answers_the_original_shape_with_a_working_token() {
    let app = TestApp::spawn().await;
    let created = app
        .post("/api/auth/register")
        .json(&credentials("carol"))
        .expect(201)
        .await;
    let user_id = created.value()["id"].to_string();
    let json_body = json!({"email": "Carol@Example.com", "password": "password-of-carol"});
    let oauth2 = [
        ("grant_type", "password"),
        ("username", "carol@example.com"),
        ("password", "password-of-carol"),
    ];
    let attempts = [
        ("/api/login", app.post("/api/login").json(&json_body).await),
        ("/api/token", app.post("/api/token").json(&json_body).await),
        ("/api/token (form)", form(&app, "/api/token", &oauth2).await),
        (
            "/auth/login",
            app.post("/auth/login").json(&json_body).await,
        ),
    ];
    for (route, reply) in attempts {
        let reply = reply.assert_status(200);
        assert_deprecated(&reply, "/api/auth/login");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{route}");
        let body = reply.value();
        assert_eq!(
            keys(&body),
            ["access_token", "token_type", "user_id"],
            "{route}"
        );
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["user_id"].as_str(), Some(user_id.as_str()), "{route}");
        let token = body["access_token"].as_str().unwrap();
        for me in ["/api/me", "/auth/me", "/api/auth/me"] {
            let reply = with_token(&app, Method::GET, me, token).expect(200).await;
            if me != "/api/auth/me" {
                assert_deprecated(&reply, "/api/auth/me");
            }
            let user = reply.value();
            assert_eq!(user["username"], "carol", "{route} then {me}");
            assert_eq!(user["id"].to_string(), user_id);
            assert!(user.get("hashed_password").is_none());
        }
    }
}

#[tokio::test]
async fn legacy_errors_are_problems_and_carry_the_deprecation_marks_too() {
    let app = TestApp::spawn().await;
    app.post("/api/register")
        .json(&credentials("dave"))
        .expect(201)
        .await;
    let again = app.post("/auth/signup").json(&credentials("dave")).await;
    assert_deprecated(&again, "/api/auth/register");
    again.assert_problem(409);

    let bad = json!({"username": "d", "email": "nope", "password": "short"});
    let invalid = app.post("/api/register").json(&bad).await;
    assert_deprecated(&invalid, "/api/auth/register");
    let problem = invalid.assert_problem(422);
    assert_eq!(problem.fields(), ["username", "email", "password"]);

    let wrong = json!({"email": "dave@example.com", "password": "not-the-password"});
    for path in ["/api/login", "/api/token", "/auth/login"] {
        let reply = app.post(path).json(&wrong).await;
        assert_deprecated(&reply, "/api/auth/login");
        assert_eq!(
            reply.assert_problem(401).detail,
            "Invalid email or password."
        );
    }
    let wrong_form = [
        ("username", "dave@example.com"),
        ("password", "wrong-password"),
    ];
    form(&app, "/api/token", &wrong_form)
        .expect_problem(401)
        .await;

    for path in ["/api/me", "/auth/me"] {
        let reply = app.get(path).await;
        assert_deprecated(&reply, "/api/auth/me");
        reply.assert_problem(401);
    }
    let reply = with_token(&app, Method::POST, "/api/logout", "not-a-token").await;
    assert_deprecated(&reply, "/api/auth/logout");
    reply.assert_problem(401);
}

#[tokio::test]
async fn legacy_logout_answers_the_original_message_and_revokes_the_session() {
    let app = TestApp::spawn().await;
    let registered = app
        .post("/api/register")
        .json(&credentials("erin"))
        .expect(201)
        .await
        .value();
    let token = registered["access_token"].as_str().unwrap();
    let reply = with_token(&app, Method::POST, "/api/logout", token)
        .expect(200)
        .await;
    assert_deprecated(&reply, "/api/auth/logout");
    assert_eq!(reply.value(), json!({"message": "Logout successful"}));
    for path in ["/api/me", "/auth/me", "/api/auth/me"] {
        with_token(&app, Method::GET, path, token)
            .expect_problem(401)
            .await;
    }
    with_token(&app, Method::POST, "/api/logout", token)
        .expect_problem(401)
        .await;
}

#[tokio::test]
async fn canonical_routes_carry_no_deprecation_marks() {
    let app = TestApp::spawn().await;
    let reply = app
        .post("/api/auth/register")
        .json(&credentials("fay"))
        .expect(201)
        .await;
    assert!(reply.header("deprecation").is_none());
    assert!(reply.header("link").is_none());
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
    let gus = app.anonymous(user_id).with_token(&token);

    for path in ["/api/auth/me", "/api/me", "/auth/me"] {
        let me = gus.call(Method::GET, path).expect(200).await.value();
        assert_eq!(me["username"], "gus", "{path}");
    }
    gus.add_task("Made with an old token").await;
    let listed = gus.list_tasks().expect(200).await.tasks();
    assert_eq!(listed[0].title, "Made with an old token");

    gus.call(Method::POST, "/api/logout").expect(200).await;
    for path in [
        "/api/auth/me",
        "/api/me",
        "/auth/me",
        gus.tasks_path().as_str(),
    ] {
        gus.call(Method::GET, path).expect_problem(401).await;
    }
    let revoked: bool = sqlx::query_scalar("SELECT revoked FROM session WHERE user_id = $1")
        .bind(i32::try_from(user_id).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(revoked);

    // Another old token for the same account, revoked through the canonical route.
    let second = gus.with_token(&original_backend_login(&app, user_id).await);
    second.list_tasks().expect(200).await;
    second.logout().expect(204).await;
    second.list_tasks().expect_problem(401).await;
}

#[tokio::test]
async fn an_old_token_signed_with_another_secret_or_without_its_session_is_refused() {
    let app = TestApp::spawn().await;
    let registered = app
        .post("/api/register")
        .json(&credentials("hal"))
        .expect(201)
        .await
        .value();
    let user_id: i64 = registered["user_id"].as_str().unwrap().parse().unwrap();
    let token = original_backend_login(&app, user_id).await;
    sqlx::query("DELETE FROM session WHERE user_id = $1")
        .bind(i32::try_from(user_id).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    with_token(&app, Method::GET, "/api/me", &token)
        .expect_problem(401)
        .await;

    let claims =
        json!({"sub": user_id.to_string(), "exp": Utc::now().timestamp() + 600, "jti": "x"});
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"some-other-secret-some-other-secret!"),
    )
    .unwrap();
    with_token(&app, Method::GET, "/api/me", &forged)
        .expect_problem(401)
        .await;
}
