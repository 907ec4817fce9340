//! Rate limits on logins and registrations, as a hostile client meets them.

use crate::helpers::{Api, Call, Reply, TestApp, TestDb};

const BEHIND_PROXY: (&str, &str) = ("TRUSTED_PROXIES", "127.0.0.1");

/// A server on a fresh database with `vars` set.
async fn app_with(vars: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_on(TestDb::create().await, vars).await
}

/// A login as if from `client` (believed only when the server trusts this peer).
fn login_from(api: &Api, client: &str, email: &str, password: &str) -> Call {
    api.login(email, password).header("x-forwarded-for", client)
}

fn register_from(api: &Api, client: &str, name: &str) -> Call {
    api.register(name, &format!("{name}@example.com"), "password-of-someone")
        .header("x-forwarded-for", client)
}

async fn accounts(app: &TestApp) -> i64 {
    sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// `n` wrong passwords for one account, all at once, from `client`: their statuses.
async fn parallel_guesses(api: &Api, client: &str, email: &str, n: usize) -> Vec<u16> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let call = login_from(api, client, email, &format!("guess-number-{i}"));
            tokio::spawn(call.send())
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap().status());
    }
    statuses
}

/// Asserts a 429 carries everything a client needs to back off; returns the policy's name.
#[track_caller]
fn assert_limited(reply: Reply) -> String {
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let policy = reply.header("ratelimit-policy").unwrap().to_owned();
    let state = reply.header("ratelimit").unwrap().to_owned();
    let name = policy.split(';').next().unwrap().to_owned();
    assert!(name.starts_with('"') && name.ends_with('"'), "{policy}");
    assert!(
        policy.contains(";q=") && policy.ends_with(";w=900"),
        "{policy}"
    );
    assert_eq!(state, format!("{name};r=0;t={retry_after}"));
    reply.assert_problem(429);
    name.trim_matches('"').to_owned()
}

#[tokio::test]
async fn a_hundred_parallel_wrong_passwords_get_at_most_five_401s_and_the_rest_429() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .expect(201)
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
    assert_eq!(assert_limited(blocked), "login-account-client");
}

#[tokio::test]
async fn the_owner_logs_in_from_another_address_after_strangers_failures() {
    let app = app_with(&[BEHIND_PROXY]).await;
    app.register("alice", "alice@example.com", "correct horse")
        .expect(201)
        .await;
    for stranger in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let statuses = parallel_guesses(&app, stranger, "alice@example.com", 30).await;
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 429),
            "{statuses:?}"
        );
    }
    let stranger = login_from(&app, "203.0.113.1", "alice@example.com", "correct horse").await;
    assert_eq!(assert_limited(stranger), "login-account-client");
    login_from(&app, "198.51.100.20", "alice@example.com", "correct horse")
        .expect(200)
        .await;
}

#[tokio::test]
async fn rotating_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_client_limit() {
    let app = TestApp::spawn().await;
    let mut statuses = Vec::new();
    for i in 0..25 {
        let forged = format!("198.51.100.{i}");
        let reply = login_from(
            &app,
            &forged,
            &format!("user{i}@example.com"),
            "guess-guess",
        )
        .await;
        statuses.push(reply.status());
        if i == 24 {
            assert_eq!(assert_limited(reply), "login-client");
        }
    }
    assert_eq!(&statuses[..20], &[401; 20], "{statuses:?}");
    assert_eq!(&statuses[20..], &[429; 5], "{statuses:?}");
}

#[tokio::test]
async fn a_trusted_proxy_is_believed_for_the_rightmost_untrusted_hop_only() {
    let app = app_with(&[BEHIND_PROXY]).await;
    // A client that puts a different address in front each time is still the hop the
    // proxy saw.
    for i in 0..20 {
        let chain = format!("192.0.2.{i}, 203.0.113.50");
        login_from(&app, &chain, &format!("user{i}@example.com"), "guess-guess")
            .expect(401)
            .await;
    }
    let again = login_from(
        &app,
        "192.0.2.99, 203.0.113.50",
        "x@example.com",
        "guess-guess",
    )
    .await;
    assert_eq!(assert_limited(again), "login-client");
    login_from(&app, "203.0.113.51", "x@example.com", "guess-guess")
        .expect(401)
        .await;
}

#[tokio::test]
async fn a_successful_login_does_not_count_against_its_client() {
    let app = TestApp::spawn().await;
    app.register("alice", "alice@example.com", "correct horse")
        .expect(201)
        .await;
    for _ in 0..25 {
        app.login("alice@example.com", "correct horse")
            .expect(200)
            .await;
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
        .expect(201)
        .await;
    let reply = app
        .login("alice@example.com", "correct horse")
        .expect(200)
        .await;
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let spec: serde_json::Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
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
    let app = app_with(&[
        BEHIND_PROXY,
        ("REGISTRATION_LIMIT_PER_CLIENT", "3"),
        ("REGISTRATION_LIMIT_GLOBAL", "5"),
    ])
    .await;
    for i in 0..3 {
        register_from(&app, "203.0.113.1", &format!("a{i}_user"))
            .expect(201)
            .await;
    }
    // A flood from one address is refused, and does not use up everyone else's quota.
    for i in 0..20 {
        let refused = register_from(&app, "203.0.113.1", &format!("flood{i}")).await;
        assert_eq!(assert_limited(refused), "register-client");
    }
    for i in 0..2 {
        register_from(&app, "203.0.113.2", &format!("b{i}_user"))
            .expect(201)
            .await;
    }
    let refused = register_from(&app, "203.0.113.3", "c0_user").await;
    assert_eq!(assert_limited(refused), "register-global");
    assert_eq!(accounts(&app).await, 5);
}

#[tokio::test]
async fn a_flood_from_a_few_networks_fills_the_global_ceiling_but_not_for_other_networks() {
    let app = app_with(&[
        BEHIND_PROXY,
        ("REGISTRATION_LIMIT_PER_CLIENT", "3"),
        ("REGISTRATION_LIMIT_PER_PREFIX", "10"),
        ("REGISTRATION_LIMIT_GLOBAL", "12"),
    ])
    .await;
    // Two networks, two addresses each, three accounts per address: the ceiling is reached.
    for network in ["198.51.100", "198.51.101"] {
        for host in [1, 2] {
            for i in 0..3 {
                register_from(
                    &app,
                    &format!("{network}.{host}"),
                    &format!("n{}h{host}u{i}", &network[8..]),
                )
                .expect(201)
                .await;
            }
        }
    }
    // A new address in a network that used more than its even share is refused…
    let refused = register_from(&app, "198.51.100.3", "late_user").await;
    assert_eq!(assert_limited(refused), "register-global");
    // …while a client from any other network still registers.
    register_from(&app, "192.0.2.10", "elsewhere")
        .expect(201)
        .await;
    assert_eq!(accounts(&app).await, 13);
}

#[tokio::test]
async fn registrations_are_limited_per_network_across_its_addresses() {
    let app = app_with(&[
        BEHIND_PROXY,
        ("REGISTRATION_LIMIT_PER_CLIENT", "2"),
        ("REGISTRATION_LIMIT_PER_PREFIX", "4"),
    ])
    .await;
    for host in 1..=2 {
        for i in 0..2 {
            register_from(&app, &format!("203.0.113.{host}"), &format!("h{host}u{i}"))
                .expect(201)
                .await;
        }
    }
    let refused = register_from(&app, "203.0.113.200", "fifth").await;
    assert_eq!(assert_limited(refused), "register-prefix");
    register_from(&app, "203.0.114.1", "next_door")
        .expect(201)
        .await;
}

#[tokio::test]
async fn a_registration_flood_is_shed_as_busy_while_logins_still_work() {
    let app = app_with(&[
        ("REGISTRATION_LIMIT_PER_CLIENT", "100000"),
        ("REGISTRATION_LIMIT_PER_PREFIX", "100000"),
        ("REGISTRATION_LIMIT_GLOBAL", "100000"),
    ])
    .await;
    app.register("alice", "alice@example.com", "correct horse")
        .expect(201)
        .await;
    let flood: Vec<_> = (0..300)
        .map(|i| {
            let call = app.register(
                &format!("flood{i}"),
                &format!("flood{i}@example.com"),
                "password-of-a-flood",
            );
            tokio::spawn(call.send())
        })
        .collect();
    // Logins have a hashing queue and bound of their own: they go through during the flood.
    for _ in 0..3 {
        app.login("alice@example.com", "correct horse")
            .expect(200)
            .await;
    }
    let mut shed = 0;
    for h in flood {
        let reply = h.await.unwrap();
        if reply.status() == 201 {
            continue;
        }
        assert!(reply.header("retry-after").is_some());
        let problem = reply.assert_problem(503);
        assert!(problem.detail.contains("busy"), "{problem:?}");
        assert!(
            !problem.detail.contains("database is unavailable"),
            "{problem:?}"
        );
        shed += 1;
    }
    assert!(shed > 0, "the registration queue never filled");
}

#[tokio::test]
async fn past_the_account_ceiling_only_addresses_the_owner_used_before_may_try() {
    let app = app_with(&[BEHIND_PROXY]).await;
    app.register("alice", "alice@example.com", "correct horse")
        .expect(201)
        .await;
    login_from(&app, "198.51.100.20", "alice@example.com", "correct horse")
        .expect(200)
        .await;
    // Twenty-one strangers, each within its own per-address limit, pass the account's
    // ceiling of a hundred attempts together.
    let strangers: Vec<String> = (1..=21).map(|i| format!("203.0.113.{i}")).collect();
    let handles: Vec<_> = strangers
        .iter()
        .flat_map(|s| (0..5).map(move |n| (s.clone(), n)))
        .map(|(stranger, n)| {
            let call = login_from(&app, &stranger, "alice@example.com", &format!("guess-{n}"));
            tokio::spawn(call.send())
        })
        .collect();
    for h in handles {
        let status = h.await.unwrap().status();
        assert!(status == 401 || status == 429, "{status}");
    }
    let newcomer = login_from(&app, "192.0.2.7", "alice@example.com", "correct horse").await;
    assert_eq!(assert_limited(newcomer), "login-account");
    login_from(&app, "198.51.100.20", "alice@example.com", "correct horse")
        .expect(200)
        .await;
}

/// Correct logins from one address, `in_flight` at a time, `total` in all, spread over
/// `accounts`: their statuses.
async fn concurrent_correct_logins(
    app: &TestApp,
    accounts: &[&str],
    in_flight: usize,
    total: usize,
) -> Vec<u16> {
    let workers: Vec<_> = (0..in_flight)
        .map(|worker| {
            let api = Api::clone(app);
            let email = format!("{}@example.com", accounts[worker % accounts.len()]);
            let logins = total / in_flight + usize::from(worker < total % in_flight);
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..logins {
                    statuses.push(api.login(&email, "correct horse").send().await.status());
                }
                statuses
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for w in workers {
        statuses.extend(w.await.unwrap());
    }
    statuses
}

/// Each correct login resets and refunds the same throttle rows that other logins are
/// counting: the statements must not deadlock. Two accounts, four logins in flight each, keep
/// every account and the address within their limits (attempts are counted before the
/// password is checked, so five in flight for one account would meet its per-address limit),
/// while the address's row is shared by all eight.
#[tokio::test]
async fn two_hundred_correct_logins_eight_at_a_time_from_one_address_all_succeed() {
    let app = TestApp::spawn().await;
    for name in ["alice", "bob"] {
        app.register(name, &format!("{name}@example.com"), "correct horse")
            .expect(201)
            .await;
    }
    let statuses = concurrent_correct_logins(&app, &["alice", "bob"], 8, 200).await;
    assert_eq!(statuses.len(), 200);
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

/// The throttle's side of a correct login (counted, then settled) with nothing between:
/// with no password check to spread them out, the statements of eight logins in flight
/// overlap all the time, so an order in which two of them lock the same rows differently
/// shows up as a deadlock here.
#[tokio::test]
async fn the_throttle_statements_of_concurrent_correct_logins_do_not_deadlock() {
    use todo_api::{auth::limits, domain::ids::UserId};
    let app = TestApp::spawn().await;
    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let user = app.sign_up(name).await;
        users.push((format!("{name}@example.com"), UserId(user.id as i32)));
    }
    let client: std::net::IpAddr = "198.51.100.7".parse().unwrap();
    let pool = app.db.app_pool(8, Default::default());
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let pool = pool.clone();
            let (email, user) = users[worker % users.len()].clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    let attempt = limits::admit_login(&pool, &email, client).await?;
                    limits::login_succeeded(&pool, attempt, user).await?;
                }
                Ok::<_, todo_api::error::ApiError>(())
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap().unwrap();
    }
}
