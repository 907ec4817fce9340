//! Accounts, sessions and the bearer check.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, LoginBody, TestApp, TestDb, UserBody};

fn sign(header: Header, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// A server with the account alice@example.com / "correct horse".
async fn with_alice() -> TestApp {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .expect(201)
        .await;
    app
}

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn registering_returns_201_with_the_user_normalised() {
    let app = TestApp::spawn().await;
    let user: UserBody = app
        .register("Alice_1", "Alice@Example.COM", "correct horse")
        .expect(201)
        .await
        .json();
    assert_eq!(user.username, "Alice_1");
    assert_eq!(user.email, "alice@example.com");
    assert!(user.id > 0);
    for at in [&user.created_at, &user.updated_at] {
        assert!(at.ends_with('Z'), "{at}");
        chrono::DateTime::parse_from_rfc3339(at).unwrap();
    }
}

#[tokio::test]
async fn a_registration_answer_never_carries_the_password_or_its_hash() {
    let app = TestApp::spawn().await;
    let text = app
        .register("alice", "alice@example.com", "correct horse")
        .expect(201)
        .await
        .text();
    assert!(
        !text.contains("correct horse") && !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_password_is_stored_as_an_argon2id_hash() {
    let app = with_alice().await;
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
    let ok = |field: &str, value: Value| {
        let mut body =
            json!({"username": "alice", "email": "a@example.com", "password": "12345678"});
        body[field] = value;
        body
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (ok("username", json!("ab")), vec!["username"]),
        (ok("username", json!("a".repeat(31))), vec!["username"]),
        (ok("username", json!("al ice")), vec!["username"]),
        (ok("username", json!("ålice")), vec!["username"]),
        (ok("username", json!("alice!")), vec!["username"]),
        (ok("username", json!(42)), vec!["username"]),
        (ok("email", json!("not-an-email")), vec!["email"]),
        (ok("email", json!(long_email)), vec!["email"]),
        (ok("password", json!("1234567")), vec!["password"]),
        (ok("password", json!("é".repeat(129))), vec!["password"]),
        (
            json!({"username": "alice", "email": "a@example.com"}),
            vec!["password"],
        ),
        (
            json!({"username": "a", "email": "b", "password": "c"}),
            vec!["username", "email", "password"],
        ),
        (json!({}), vec!["username", "email", "password"]),
    ];
    for (body, fields) in cases {
        let problem = app
            .post("/api/auth/register")
            .json(&body)
            .expect_problem(422)
            .await;
        assert_eq!(problem.fields(), fields, "{body}: {problem:?}");
    }
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn unicode_within_the_rules_is_fine_in_a_password() {
    let app = TestApp::spawn().await;
    app.register("unicode_user", "u@example.com", "pässwörd-ünïcode")
        .expect(201)
        .await;
}

#[tokio::test]
async fn malformed_json_and_wrong_content_types_are_400() {
    let app = TestApp::spawn().await;
    for (content_type, body) in [
        (Some("application/json"), "{\"username\": "),
        (Some("application/json"), "[1, 2"),
        (Some("application/json"), ""),
        (Some("text/plain"), "{\"username\":\"alice\"}"),
        (None, "{}"),
    ] {
        let mut call = app.post("/api/auth/register").body(body);
        if let Some(content_type) = content_type {
            call = call.header("content-type", content_type);
        }
        let problem = call.expect_problem(400).await;
        assert_eq!(problem.status, 400, "{content_type:?} {body}");
    }
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn a_json_value_that_is_not_an_object_is_a_422_about_the_body() {
    let app = TestApp::spawn().await;
    app.post("/api/auth/register")
        .json(&json!([1, 2]))
        .expect_problem(422)
        .await;
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = TestApp::spawn().await;
    app.register("alice", "a@example.com", &"x".repeat(70_000))
        .expect_problem(413)
        .await;
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn a_username_taken_in_any_case_is_409_naming_the_username() {
    let app = with_alice().await;
    let problem = app
        .register("ALICE", "other@example.com", "12345678")
        .expect_problem(409)
        .await;
    assert_eq!(problem.fields(), ["username"]);
}

#[tokio::test]
async fn an_email_taken_in_any_case_is_409_naming_the_email() {
    let app = with_alice().await;
    let problem = app
        .register("alice2", "ALICE@example.com", "12345678")
        .expect_problem(409)
        .await;
    assert_eq!(problem.fields(), ["email"]);
}

#[tokio::test]
async fn a_hundred_concurrent_registrations_of_one_email_create_exactly_one_account() {
    let limits = [
        ("REGISTRATION_LIMIT_PER_CLIENT", "1000"),
        ("REGISTRATION_LIMIT_PER_PREFIX", "1000"),
    ];
    let app = TestApp::spawn_on(TestDb::create().await, &limits).await;
    let attempts: Vec<_> = (0..100)
        .map(|i| {
            let call = app.register(&format!("racer{i}"), "race@example.com", "12345678");
            tokio::spawn(call.send())
        })
        .collect();
    let mut statuses = Vec::new();
    for a in attempts {
        statuses.push(a.await.unwrap().status());
    }
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    assert_eq!((count(201), count(409)), (1, 99), "{statuses:?}");
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn login_returns_a_bearer_token_for_a_day_whatever_the_email_case() {
    let app = with_alice().await;
    let login: LoginBody = app
        .login("ALICE@example.com", "correct horse")
        .expect(200)
        .await
        .json();
    assert_eq!(login.token_type, "bearer");
    assert_eq!(login.user.username, "alice");
    let expires_at = chrono::DateTime::parse_from_rfc3339(&login.expires_at).unwrap();
    let ttl = expires_at.with_timezone(&Utc) - Utc::now();
    assert!(
        ttl > chrono::Duration::hours(23) && ttl <= chrono::Duration::hours(24),
        "{ttl}"
    );
}

#[tokio::test]
async fn the_login_token_opens_me_which_is_the_logged_in_user() {
    let app = with_alice().await;
    let login: LoginBody = app
        .login("alice@example.com", "correct horse")
        .expect(200)
        .await
        .json();
    let alice = app.anonymous(login.user.id).with_token(&login.access_token);
    let me: UserBody = alice.me().expect(200).await.json();
    assert_eq!(me, login.user);
}

#[tokio::test]
async fn the_session_row_holds_a_sha_256_of_the_token_never_the_token() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let (stored, jti): (String, String) = sqlx::query_as("SELECT token, token_jti FROM session")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 64);
    assert!(!alice.token.contains(&stored) && stored != alice.token);
    assert_eq!(jti.len(), 36);
}

#[tokio::test]
async fn a_wrong_password_is_401_with_a_bearer_challenge() {
    let app = with_alice().await;
    let wrong = app
        .login("alice@example.com", "wrong horse!")
        .expect(401)
        .await;
    assert!(
        wrong
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_byte_identical_401s() {
    let app = with_alice().await;
    let wrong = app.login("alice@example.com", "wrong horse!").send().await;
    let unknown = app.login("nobody@example.com", "wrong horse!").send().await;
    assert_eq!((wrong.status(), unknown.status()), (401, 401));
    assert_eq!(wrong.body, unknown.body);
}

/// Five wrong passwords for alice@example.com.
async fn five_failures(app: &TestApp) {
    for _ in 0..5 {
        app.login("alice@example.com", "wrong horse!")
            .expect(401)
            .await;
    }
}

#[tokio::test]
async fn after_repeated_failures_even_the_right_password_waits_with_retry_after() {
    let app = with_alice().await;
    five_failures(&app).await;
    // The attacker must not learn it was right.
    let blocked = app.login("alice@example.com", "correct horse").send().await;
    let retry_after: u64 = blocked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    blocked.assert_problem(429);
}

#[tokio::test]
async fn another_account_from_another_client_is_unaffected_by_a_throttled_email() {
    let app = with_alice().await;
    five_failures(&app).await;
    app.register("bob", "bob@example.com", "correct horse")
        .expect(201)
        .await;
    app.login("bob@example.com", "correct horse")
        .header("x-forwarded-for", "203.0.113.9")
        .expect(200)
        .await;
}

#[tokio::test]
async fn when_the_window_has_passed_logins_work_again_and_reset_the_count() {
    let app = with_alice().await;
    five_failures(&app).await;
    // The window moved into the past.
    sqlx::query("UPDATE login_throttle SET window_start = window_start - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.login("alice@example.com", "correct horse")
        .expect(200)
        .await;
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM login_throttle WHERE key LIKE 'account-client:%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, 0, "a success resets the email's counter");
}

#[tokio::test]
async fn many_failures_from_one_client_across_emails_are_throttled() {
    let behind_a_proxy = [("TRUSTED_PROXIES", "127.0.0.1")];
    let app = TestApp::spawn_on(TestDb::create().await, &behind_a_proxy).await;
    let attempt = |i: usize, ip: &str| {
        app.login(&format!("user{i}@example.com"), "guess-guess")
            .header("x-forwarded-for", ip)
            .send()
    };
    for i in 0..20 {
        attempt(i, "198.51.100.7").await.assert_status(401);
    }
    attempt(99, "198.51.100.7").await.assert_status(429);
    attempt(99, "198.51.100.8").await.assert_status(401);
}

/// A server with an account made by the old backend, hashed with bcrypt.
async fn with_a_legacy_user() -> TestApp {
    let app = TestApp::spawn().await;
    let legacy = bcrypt::hash("old backend password", 6).unwrap();
    sqlx::query(r#"INSERT INTO "user" (username, email, hashed_password) VALUES ('legacy', 'Legacy@Example.com', $1)"#)
        .bind(&legacy)
        .execute(&app.pool)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn a_legacy_bcrypt_user_is_refused_a_wrong_password() {
    let app = with_a_legacy_user().await;
    app.login("legacy@example.com", "not the password")
        .expect(401)
        .await;
}

#[tokio::test]
async fn a_legacy_bcrypt_user_logs_in_and_is_rehashed_to_argon2id() {
    let app = with_a_legacy_user().await;
    for _ in 0..2 {
        app.login("legacy@example.com", "old backend password")
            .expect(200)
            .await;
        let stored: String = sqlx::query_scalar(r#"SELECT hashed_password FROM "user""#)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
    }
}

#[tokio::test]
async fn tokens_that_must_not_work_get_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let now = Utc::now().timestamp();
    let claims = |exp: i64| json!({"sub": alice.id.to_string(), "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": exp});
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
    let mut tampered = alice.token.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let hs256 = |exp: i64| {
        sign(
            Header::new(Algorithm::HS256),
            &claims(exp),
            JWT_SECRET.as_bytes(),
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("missing", String::new()),
        ("garbage", "not.a.token".into()),
        ("tampered signature", tampered),
        (
            "wrong secret",
            sign(
                Header::new(Algorithm::HS256),
                &claims(now + 600),
                b"another-secret-another-secret-0000",
            ),
        ),
        ("alg none", unsigned),
        (
            "HS512 with the same secret",
            sign(
                Header::new(Algorithm::HS512),
                &claims(now + 600),
                JWT_SECRET.as_bytes(),
            ),
        ),
        ("expired", hs256(now - 10)),
        ("valid signature but no session", hs256(now + 600)),
    ];
    for (what, token) in cases {
        let reply = alice.with_token(&token).me().send().await;
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "{what}"
        );
        let detail = reply.assert_problem(401).detail;
        assert!(
            !detail.contains("HS512") && !detail.contains("signature"),
            "{what}: {detail}"
        );
    }
    alice.me().expect(200).await;
}

#[tokio::test]
async fn logout_is_204_and_the_token_then_gets_401_saying_the_session_ended() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    alice.logout().expect(204).await;
    let problem = alice.me().expect_problem(401).await;
    assert!(problem.detail.contains("ended"), "{problem:?}");
    alice.logout().expect(401).await;
}

#[tokio::test]
async fn logout_revokes_only_its_own_token() {
    let app = TestApp::spawn().await;
    let first = app.sign_up("alice").await;
    let second: LoginBody = app
        .login("alice@example.com", "password-of-alice")
        .expect(200)
        .await
        .json();
    first.logout().expect(204).await;
    first
        .with_token(&second.access_token)
        .me()
        .expect(200)
        .await;
}

#[tokio::test]
async fn a_deleted_session_ends_its_token() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    sqlx::query("DELETE FROM session WHERE user_id = $1")
        .bind(alice.id as i32)
        .execute(&app.pool)
        .await
        .unwrap();
    alice.me().expect_problem(401).await;
}

#[tokio::test]
async fn an_expired_session_ends_its_token_saying_so() {
    let app = TestApp::spawn().await;
    let bob = app.sign_up("bob").await;
    sqlx::query("UPDATE session SET expires_at = timezone('utc', now()) - interval '1 second' WHERE user_id = $1")
        .bind(bob.id as i32)
        .execute(&app.pool)
        .await
        .unwrap();
    let problem = bob.me().expect_problem(401).await;
    assert!(problem.detail.contains("expired"), "{problem:?}");
}

#[tokio::test]
async fn a_deleted_user_ends_their_token() {
    let app = TestApp::spawn().await;
    let carol = app.sign_up("carol").await;
    sqlx::query(r#"DELETE FROM "user" WHERE id = $1"#)
        .bind(carol.id as i32)
        .execute(&app.pool)
        .await
        .unwrap();
    carol.me().expect(401).await;
}

#[tokio::test]
async fn another_users_session_ending_leaves_ones_own_token_working() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    bob.logout().expect(204).await;
    alice.me().expect(200).await;
}

#[tokio::test]
async fn a_token_revoked_on_one_instance_is_refused_by_another_at_once() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let on_first = first.sign_up("alice").await;
    let on_second = second.anonymous(on_first.id).with_token(&on_first.token);
    on_second.me().expect(200).await;
    on_first.logout().expect(204).await;
    on_second.me().expect(401).await;
}

#[tokio::test]
async fn maintenance_deletes_expired_sessions_and_ended_throttle_windows_only() {
    let app = TestApp::spawn().await;
    // Rows written directly: a request would start the server's own pass in the background,
    // which could sweep them before this one does.
    app.sql(
        "INSERT INTO \"user\" (username, email, hashed_password) VALUES ('alice', 'alice@example.com', 'x');
         INSERT INTO session (user_id, token_jti, token, expires_at)
           SELECT id, 'old', 'x', timezone('utc', now()) - interval '1 hour' FROM \"user\";
         INSERT INTO session (user_id, token_jti, token, expires_at)
           SELECT id, 'live', 'y', timezone('utc', now()) + interval '1 hour' FROM \"user\";
         INSERT INTO login_throttle (key, failures, window_start) VALUES
           ('email:old@example.com', 3, timezone('utc', now()) - interval '1 hour'),
           ('email:new@example.com', 3, timezone('utc', now()))",
    )
    .await;
    let swept =
        todo_api::maintenance::run_once(&app.pool, todo_api::config::DEFAULT_SYNC_RETENTION)
            .await
            .unwrap();
    assert_eq!((swept.sessions, swept.throttle_windows), (1, 1));
    let sessions: Vec<String> = sqlx::query_scalar("SELECT token_jti FROM session")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, vec!["live"]);
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
    use todo_api::domain::user;
    for (field, fact, value) in [
        ("username", "maxLength", json!(user::USERNAME_MAX)),
        ("username", "minLength", json!(user::USERNAME_MIN)),
        ("username", "pattern", json!(user::USERNAME_PATTERN)),
        ("email", "maxLength", json!(user::EMAIL_MAX)),
        ("password", "minLength", json!(user::PASSWORD_MIN)),
        ("password", "maxLength", json!(user::PASSWORD_MAX)),
    ] {
        assert_eq!(register[field][fact], value, "{field}.{fact}");
    }
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
    let unknown = app.login("nobody@example.com", "whatever-pw").send().await;
    let malformed = app.login("not an email", "whatever-pw").send().await;
    assert_eq!((unknown.status(), malformed.status()), (401, 401));
    assert_eq!(malformed.body, unknown.body);
}
