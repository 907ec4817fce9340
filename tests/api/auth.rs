//! Accounts, sessions and the bearer check.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::Executor;

use crate::helpers::{JWT_SECRET, TestApp, TestDb, problem};

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, username: &str, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/register",
            &json!({"username": username, "email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Registers `name` (email `name@example.com`, password `password-of-name`) and logs in:
    /// returns the user id and an access token.
    pub async fn user(&self, name: &str) -> (i64, String) {
        let email = format!("{name}@example.com");
        let password = format!("password-of-{name}");
        let created = self.register(name, &email, &password).await;
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
        let body: Value = self.login(&email, &password).await.json().await.unwrap();
        (
            body["user"]["id"].as_i64().unwrap(),
            body["access_token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn get_with(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn sign(header: Header, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[tokio::test]
async fn registering_returns_201_with_the_user_and_never_the_password() {
    let app = TestApp::spawn().await;
    let response = app
        .register("Alice_1", "Alice@Example.COM", "correct horse")
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["username"], "Alice_1");
    assert_eq!(body["email"], "alice@example.com");
    assert!(body["id"].as_i64().unwrap() > 0);
    for field in ["created_at", "updated_at"] {
        let at = body[field].as_str().unwrap();
        assert!(at.ends_with('Z'), "{field} = {at}");
        chrono::DateTime::parse_from_rfc3339(at).unwrap();
    }
    let text = body.to_string();
    assert!(
        !text.contains("correct horse") && !text.contains("password") && !text.contains("argon2")
    );
    let stored: String = sqlx::query_scalar(r#"SELECT hashed_password FROM "user""#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
}

#[tokio::test]
async fn each_field_rule_of_registration_is_a_422_naming_the_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"username": "ab", "email": "a@example.com", "password": "12345678"}),
            vec!["username"],
        ),
        (
            json!({"username": "a".repeat(31), "email": "a@example.com", "password": "12345678"}),
            vec!["username"],
        ),
        (
            json!({"username": "al ice", "email": "a@example.com", "password": "12345678"}),
            vec!["username"],
        ),
        (
            json!({"username": "ålice", "email": "a@example.com", "password": "12345678"}),
            vec!["username"],
        ),
        (
            json!({"username": "alice!", "email": "a@example.com", "password": "12345678"}),
            vec!["username"],
        ),
        (
            json!({"username": "alice", "email": "not-an-email", "password": "12345678"}),
            vec!["email"],
        ),
        (
            json!({"username": "alice", "email": long_email, "password": "12345678"}),
            vec!["email"],
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "1234567"}),
            vec!["password"],
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "é".repeat(129)}),
            vec!["password"],
        ),
        (
            json!({"username": "alice", "email": "a@example.com"}),
            vec!["password"],
        ),
        (
            json!({"username": 42, "email": "a@example.com", "password": "12345678"}),
            vec!["username"],
        ),
        (
            json!({"username": "a", "email": "b", "password": "c"}),
            vec!["username", "email", "password"],
        ),
        (json!({}), vec!["username", "email", "password"]),
    ];
    for (body, fields) in cases {
        let response = app.post_json("/api/auth/register", &body).await;
        let problem = problem(response, 422).await;
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{body}: {problem}");
    }
    let users: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    // Unicode that is within the rules is fine in a password.
    let ok = app
        .register("unicode_user", "u@example.com", "pässwörd-ünïcode")
        .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn malformed_json_and_wrong_content_types_are_400() {
    let app = TestApp::spawn().await;
    let url = app.url("/api/auth/register");
    for (content_type, body) in [
        ("application/json", "{\"username\": "),
        ("application/json", "[1, 2"),
        ("application/json", ""),
        ("text/plain", "{\"username\":\"alice\"}"),
    ] {
        let response = app
            .client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        problem(response, 400).await;
    }
    let response = app.client.post(&url).body("{}").send().await.unwrap();
    problem(response, 400).await;
    // A JSON value that is not an object is a 422 about the body.
    let response = app.post_json("/api/auth/register", &json!([1, 2])).await;
    problem(response, 422).await;
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = TestApp::spawn().await;
    let body =
        json!({"username": "alice", "email": "a@example.com", "password": "x".repeat(70_000)});
    let response = app.post_json("/api/auth/register", &body).await;
    problem(response, 413).await;
}

#[tokio::test]
async fn duplicate_usernames_and_emails_in_any_case_are_409() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register("alice", "alice@example.com", "12345678")
            .await
            .status(),
        201
    );
    let body = problem(
        app.register("ALICE", "other@example.com", "12345678").await,
        409,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "username");
    let body = problem(
        app.register("alice2", "ALICE@example.com", "12345678")
            .await,
        409,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "email");
}

#[tokio::test]
async fn a_hundred_concurrent_registrations_of_one_email_create_exactly_one_account() {
    let limits = [("REGISTRATION_LIMIT_PER_CLIENT", "1000")];
    let app = TestApp::spawn_on(TestDb::create().await, &limits).await;
    let attempts = (0..100).map(|i| {
        let client = app.client.clone();
        let url = app.url("/api/auth/register");
        async move {
            client
                .post(url)
                .json(&json!({"username": format!("racer{i}"), "email": "race@example.com", "password": "12345678"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        99,
        "{statuses:?}"
    );
}

async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn login_returns_a_bearer_token_that_works() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .await;
    let response = app.login("ALICE@example.com", "correct horse").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["user"]["username"], "alice");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let ttl = expires_at.with_timezone(&Utc) - Utc::now();
    assert!(
        ttl > chrono::Duration::hours(23) && ttl <= chrono::Duration::hours(24),
        "{ttl}"
    );
    let token = body["access_token"].as_str().unwrap();
    let me = app.get_with("/api/auth/me", token).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me, body["user"]);
    // The session row holds a SHA-256 of the token, never the token.
    let (stored, jti): (String, String) = sqlx::query_as("SELECT token, token_jti FROM session")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 64);
    assert!(!token.contains(&stored) && stored != token);
    assert_eq!(jti.len(), 36);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_byte_identical_401s() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .await;
    let wrong = app.login("alice@example.com", "wrong horse!").await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = wrong.bytes().await.unwrap();
    let unknown = app.login("nobody@example.com", "wrong horse!").await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.bytes().await.unwrap();
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn repeated_failures_for_one_email_are_throttled_then_recover() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .await;
    for _ in 0..5 {
        assert_eq!(
            app.login("alice@example.com", "wrong horse!")
                .await
                .status(),
            401
        );
    }
    // Even the right password waits now: the attacker must not learn it was right.
    let blocked = app.login("alice@example.com", "correct horse").await;
    assert_eq!(blocked.status(), 429);
    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    problem(blocked, 429).await;
    // Another account from another client is unaffected.
    app.register("bob", "bob@example.com", "correct horse")
        .await;
    let other = app
        .client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"email": "bob@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    // When the window has passed (moved into the past here), logins work again.
    sqlx::query("UPDATE login_throttle SET window_start = window_start - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.login("alice@example.com", "correct horse")
            .await
            .status(),
        200
    );
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM login_throttle WHERE key LIKE 'account-client:%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, 0, "a success resets the email's counter");
}

#[tokio::test]
async fn many_failures_from_one_client_across_emails_are_throttled() {
    let app = TestApp::spawn_on(TestDb::create().await, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let attempt = |i: usize, ip: &'static str| {
        app.client
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": format!("user{i}@example.com"), "password": "guess-guess"}))
            .send()
    };
    for i in 0..20 {
        assert_eq!(attempt(i, "198.51.100.7").await.unwrap().status(), 401);
    }
    assert_eq!(attempt(99, "198.51.100.7").await.unwrap().status(), 429);
    assert_eq!(attempt(99, "198.51.100.8").await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_legacy_bcrypt_user_logs_in_and_is_rehashed_to_argon2id() {
    let app = TestApp::spawn().await;
    let legacy = bcrypt::hash("old backend password", 6).unwrap();
    sqlx::query(r#"INSERT INTO "user" (username, email, hashed_password) VALUES ('legacy', 'Legacy@Example.com', $1)"#)
        .bind(&legacy)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.login("legacy@example.com", "not the password")
            .await
            .status(),
        401
    );
    let response = app
        .login("legacy@example.com", "old backend password")
        .await;
    assert_eq!(response.status(), 200);
    let stored: String = sqlx::query_scalar(r#"SELECT hashed_password FROM "user""#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(
        app.login("legacy@example.com", "old backend password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn tokens_that_must_not_work_get_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let (user_id, good) = app.user("alice").await;
    let now = Utc::now().timestamp();
    let claims = |exp: i64| json!({"sub": user_id.to_string(), "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": exp});
    let unsigned = {
        use base64::Engine;
        let enc =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            enc(&json!({"alg": "none", "typ": "JWT"})),
            enc(&claims(now + 600))
        )
    };
    let mut tampered = good.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("garbage", Some("not.a.token".into())),
        ("tampered signature", Some(tampered)),
        (
            "wrong secret",
            Some(sign(
                Header::new(Algorithm::HS256),
                &claims(now + 600),
                b"another-secret-another-secret-0000",
            )),
        ),
        ("alg none", Some(unsigned)),
        (
            "HS512 with the same secret",
            Some(sign(
                Header::new(Algorithm::HS512),
                &claims(now + 600),
                JWT_SECRET.as_bytes(),
            )),
        ),
        (
            "expired",
            Some(sign(
                Header::new(Algorithm::HS256),
                &claims(now - 10),
                JWT_SECRET.as_bytes(),
            )),
        ),
        (
            "valid signature but no session",
            Some(sign(
                Header::new(Algorithm::HS256),
                &claims(now + 600),
                JWT_SECRET.as_bytes(),
            )),
        ),
    ];
    for (what, token) in cases {
        let mut request = app.client.get(app.url("/api/auth/me"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{what}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{what}"
        );
        let body = problem(response, 401).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(
            !detail.contains("HS512") && !detail.contains("signature"),
            "{what}: {detail}"
        );
    }
    assert_eq!(app.get_with("/api/auth/me", &good).await.status(), 200);
}

#[tokio::test]
async fn logout_revokes_the_token_and_only_that_token() {
    let app = TestApp::spawn().await;
    let (_, first) = app.user("alice").await;
    let second: Value = app
        .login("alice@example.com", "password-of-alice")
        .await
        .json()
        .await
        .unwrap();
    let second = second["access_token"].as_str().unwrap().to_owned();
    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let body = problem(app.get_with("/api/auth/me", &first).await, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("ended"), "{body}");
    let again = app
        .client
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
    assert_eq!(app.get_with("/api/auth/me", &second).await.status(), 200);
}

#[tokio::test]
async fn deleted_sessions_expired_sessions_and_deleted_users_end_their_tokens() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let (carol_id, carol) = app.user("carol").await;
    app.pool.execute("DELETE FROM session WHERE user_id = (SELECT id FROM \"user\" WHERE username = 'alice')").await.unwrap();
    assert_eq!(app.get_with("/api/auth/me", &alice).await.status(), 401);
    app.pool
        .execute("UPDATE session SET expires_at = timezone('utc', now()) - interval '1 second' WHERE user_id = (SELECT id FROM \"user\" WHERE username = 'bob')")
        .await
        .unwrap();
    let body = problem(app.get_with("/api/auth/me", &bob).await, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    sqlx::query(r#"DELETE FROM "user" WHERE id = $1"#)
        .bind(carol_id as i32)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.get_with("/api/auth/me", &carol).await.status(), 401);
}

#[tokio::test]
async fn a_token_revoked_on_one_instance_is_refused_by_another_at_once() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let (_, token) = first.user("alice").await;
    assert_eq!(second.get_with("/api/auth/me", &token).await.status(), 200);
    let out = first
        .client
        .post(first.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(second.get_with("/api/auth/me", &token).await.status(), 401);
}

#[tokio::test]
async fn maintenance_deletes_expired_sessions_and_ended_throttle_windows_only() {
    let app = TestApp::spawn().await;
    let (_, _live) = app.user("alice").await;
    app.pool
        .execute(
            "INSERT INTO session (user_id, token_jti, token, expires_at)
               SELECT id, 'old', 'x', timezone('utc', now()) - interval '1 hour' FROM \"user\";
             INSERT INTO login_throttle (key, failures, window_start) VALUES
               ('email:old@example.com', 3, timezone('utc', now()) - interval '1 hour'),
               ('email:new@example.com', 3, timezone('utc', now()))",
        )
        .await
        .unwrap();
    let swept = todo_api::maintenance::run_once(&app.pool).await.unwrap();
    assert_eq!((swept.sessions, swept.throttle_windows), (1, 1));
    let sessions: Vec<String> = sqlx::query_scalar("SELECT token_jti FROM session")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0], "old");
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM login_throttle WHERE key LIKE 'email:%'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(keys, vec!["email:new@example.com"]);
}

#[test]
fn the_spec_documents_the_bearer_scheme_and_field_rules() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let register = &spec["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(
        register["username"]["maxLength"],
        todo_api::domain::user::USERNAME_MAX
    );
    assert_eq!(
        register["username"]["minLength"],
        todo_api::domain::user::USERNAME_MIN
    );
    assert_eq!(
        register["username"]["pattern"],
        todo_api::domain::user::USERNAME_PATTERN
    );
    assert_eq!(
        register["email"]["maxLength"],
        todo_api::domain::user::EMAIL_MAX
    );
    assert_eq!(
        register["password"]["minLength"],
        todo_api::domain::user::PASSWORD_MIN
    );
    assert_eq!(
        register["password"]["maxLength"],
        todo_api::domain::user::PASSWORD_MAX
    );
    let login = &spec["paths"]["/api/auth/login"]["post"]["responses"];
    for status in ["200", "400", "401", "413", "422", "429", "503"] {
        assert!(login.get(status).is_some(), "login lacks {status}");
    }
    assert!(login["429"]["headers"]["Retry-After"].is_object());
    let me = &spec["paths"]["/api/auth/me"]["get"];
    assert_eq!(me["security"][0]["bearerAuth"], json!([]));
}

#[tokio::test]
async fn a_login_with_an_address_that_cannot_exist_is_the_same_401() {
    let app = TestApp::spawn().await;
    let unknown = app
        .login("nobody@example.com", "whatever-pw")
        .await
        .bytes()
        .await
        .unwrap();
    let malformed = app.login("not an email", "whatever-pw").await;
    assert_eq!(malformed.status(), 401);
    assert_eq!(malformed.bytes().await.unwrap(), unknown);
}
