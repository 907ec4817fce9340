//! Rate limits on logins and registrations, as a hostile client meets them.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, problem};

const BEHIND_PROXY: (&str, &str) = ("TRUSTED_PROXIES", "127.0.0.1");

impl TestApp {
    /// A login as if from `client` (believed only when the server trusts this peer).
    async fn login_from(&self, client: &str, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/auth/login"))
            .header("x-forwarded-for", client)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    async fn register_from(&self, client: &str, name: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/auth/register"))
            .header("x-forwarded-for", client)
            .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": "password-of-someone"}))
            .send()
            .await
            .unwrap()
    }

    async fn accounts(&self) -> i64 {
        sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// `n` wrong passwords for one account, all at once, from `client`: their statuses.
async fn parallel_guesses(app: &TestApp, client: &str, email: &str, n: usize) -> Vec<u16> {
    let url = app.url("/api/auth/login");
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let request = app
                .client
                .post(&url)
                .header("x-forwarded-for", client)
                .json(&json!({"email": email, "password": format!("guess-number-{i}")}));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    statuses
}

/// Asserts a 429 carries everything a client needs to back off, and returns its policy.
async fn assert_limited(response: reqwest::Response) -> String {
    let headers = response.headers().clone();
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let policy = headers["ratelimit-policy"].to_str().unwrap().to_owned();
    let state = headers["ratelimit"].to_str().unwrap().to_owned();
    let name = policy.split(';').next().unwrap().to_owned();
    assert!(name.starts_with('"') && name.ends_with('"'), "{policy}");
    assert!(
        policy.contains(";q=") && policy.ends_with(";w=900"),
        "{policy}"
    );
    assert_eq!(state, format!("{name};r=0;t={retry_after}"));
    problem(response, 429).await;
    name.trim_matches('"').to_owned()
}

#[tokio::test]
async fn a_hundred_parallel_wrong_passwords_get_at_most_five_401s_and_the_rest_429() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .await;
    let statuses = parallel_guesses(&app, "-", "alice@example.com", 100).await;
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        unauthorized <= 5,
        "{unauthorized} guesses were checked: {statuses:?}"
    );
    assert_eq!(unauthorized + limited, 100, "{statuses:?}");
    // Even the right password is refused now from this address, with the limit named.
    let blocked = app.login("alice@example.com", "correct horse").await;
    assert_eq!(assert_limited(blocked).await, "login-account-client");
}

#[tokio::test]
async fn the_owner_logs_in_from_another_address_after_strangers_failures() {
    let app = TestApp::spawn_on(TestDb::create().await, &[BEHIND_PROXY]).await;
    app.register("alice", "alice@example.com", "correct horse")
        .await;
    for stranger in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let statuses = parallel_guesses(&app, stranger, "alice@example.com", 30).await;
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 429),
            "{statuses:?}"
        );
    }
    let stranger = app
        .login_from("203.0.113.1", "alice@example.com", "correct horse")
        .await;
    assert_eq!(assert_limited(stranger).await, "login-account-client");
    let owner = app
        .login_from("198.51.100.20", "alice@example.com", "correct horse")
        .await;
    assert_eq!(owner.status(), 200);
}

#[tokio::test]
async fn rotating_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_client_limit() {
    let app = TestApp::spawn().await;
    let mut statuses = Vec::new();
    for i in 0..25 {
        let forged = format!("198.51.100.{i}");
        let response = app
            .login_from(&forged, &format!("user{i}@example.com"), "guess-guess")
            .await;
        statuses.push(response.status().as_u16());
        if i == 24 {
            assert_eq!(assert_limited(response).await, "login-client");
        }
    }
    assert_eq!(&statuses[..20], &[401; 20], "{statuses:?}");
    assert_eq!(&statuses[20..], &[429; 5], "{statuses:?}");
}

#[tokio::test]
async fn a_trusted_proxy_is_believed_for_the_rightmost_untrusted_hop_only() {
    let app = TestApp::spawn_on(TestDb::create().await, &[BEHIND_PROXY]).await;
    // A client that puts a different address in front each time is still the hop the
    // proxy saw.
    for i in 0..20 {
        let chain = format!("192.0.2.{i}, 203.0.113.50");
        let response = app
            .login_from(&chain, &format!("user{i}@example.com"), "guess-guess")
            .await;
        assert_eq!(response.status(), 401);
    }
    let again = app
        .login_from("192.0.2.99, 203.0.113.50", "x@example.com", "guess-guess")
        .await;
    assert_eq!(assert_limited(again).await, "login-client");
    let someone_else = app
        .login_from("203.0.113.51", "x@example.com", "guess-guess")
        .await;
    assert_eq!(someone_else.status(), 401);
}

#[tokio::test]
async fn a_successful_login_does_not_count_against_its_client() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .await;
    for _ in 0..25 {
        let response = app.login("alice@example.com", "correct horse").await;
        assert_eq!(response.status(), 200);
    }
    let counted: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(failures), 0)::int8 FROM login_throttle WHERE key LIKE 'client:%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(counted, 0);
}

#[tokio::test]
async fn the_token_response_is_not_stored_by_caches() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .await;
    let response = app.login("alice@example.com", "correct horse").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let ok = &spec["paths"]["/api/auth/login"]["post"]["responses"]["200"];
    let documented = ok["headers"].as_object().unwrap();
    assert!(
        documented
            .keys()
            .any(|h| h.eq_ignore_ascii_case("cache-control")),
        "{ok}"
    );
}

#[tokio::test]
async fn registrations_are_limited_per_client_then_globally() {
    let limits = [
        BEHIND_PROXY,
        ("REGISTRATION_LIMIT_PER_CLIENT", "3"),
        ("REGISTRATION_LIMIT_GLOBAL", "5"),
    ];
    let app = TestApp::spawn_on(TestDb::create().await, &limits).await;
    for i in 0..3 {
        let created = app
            .register_from("203.0.113.1", &format!("a{i}_user"))
            .await;
        assert_eq!(created.status(), 201);
    }
    // A flood from one address is refused, and does not use up everyone else's quota.
    for i in 0..20 {
        let refused = app.register_from("203.0.113.1", &format!("flood{i}")).await;
        assert_eq!(refused.status(), 429);
        if i == 0 {
            assert_eq!(assert_limited(refused).await, "register-client");
        }
    }
    for i in 0..2 {
        let created = app
            .register_from("203.0.113.2", &format!("b{i}_user"))
            .await;
        assert_eq!(created.status(), 201);
    }
    let refused = app.register_from("203.0.113.3", "c0_user").await;
    assert_eq!(assert_limited(refused).await, "register-global");
    assert_eq!(app.accounts().await, 5);
}

#[tokio::test]
async fn a_registration_flood_is_shed_as_busy_while_logins_still_work() {
    let limits = [
        ("REGISTRATION_LIMIT_PER_CLIENT", "100000"),
        ("REGISTRATION_LIMIT_GLOBAL", "100000"),
    ];
    let app = TestApp::spawn_on(TestDb::create().await, &limits).await;
    app.register("alice", "alice@example.com", "correct horse")
        .await;
    let url = app.url("/api/auth/register");
    let flood: Vec<_> = (0..300)
        .map(|i| {
            let request = app.client.post(&url).json(&json!({
                "username": format!("flood{i}"),
                "email": format!("flood{i}@example.com"),
                "password": "password-of-a-flood",
            }));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").cloned();
                let body: Value = response.json().await.unwrap_or_default();
                (status, retry_after, body)
            })
        })
        .collect();
    // Logins have hashing threads of their own: they go through during the flood.
    for _ in 0..3 {
        let login = app.login("alice@example.com", "correct horse").await;
        assert_eq!(login.status(), 200);
    }
    let mut shed = 0;
    for h in flood {
        let (status, retry_after, body) = h.await.unwrap();
        match status {
            201 => {}
            503 => {
                shed += 1;
                assert!(retry_after.is_some());
                let detail = body["detail"].as_str().unwrap();
                assert!(detail.contains("busy"), "{detail}");
                assert!(!detail.contains("database is unavailable"), "{detail}");
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(shed > 0, "the registration queue never filled");
}
