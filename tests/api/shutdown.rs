//! Shutdown as a platform does it during a rolling deploy: SIGTERM while requests are in
//! flight. Readiness turns 503 at once while the server still serves for `SHUTDOWN_GRACE`,
//! then new connections are refused, every request that had started gets its answer, and
//! the process exits 0.

use std::{
    io::{ErrorKind, Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::json;
use sqlx::Executor;

use crate::helpers::{
    Api, JWT_SECRET, TestDb, User, lock_waiters, until_live, wait_for, wait_until,
};

/// Requests held by a table lock when the signal comes.
const HELD: usize = 30;

#[tokio::test]
async fn sigterm_under_load_drops_readiness_then_refuses_connections_and_answers_every_request() {
    let db = TestDb::create().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let port_text = port.to_string();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .env_clear()
        .envs([
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", JWT_SECRET),
            ("PORT", port_text.as_str()),
            ("METRICS_ADDR", "off"),
            ("SHUTDOWN_GRACE", "5s"),
            ("SHUTDOWN_TIMEOUT", "60s"),
            // Requests wait on the test's lock for as long as it holds it.
            ("DB_STATEMENT_TIMEOUT", "off"),
            ("DB_MAX_CONNECTIONS", "50"),
            ("DB_MAX_CONNECTIONS_PER_USER", "50"),
        ])
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    until_live(&base).await;
    let api = Api::new(&base);
    let alice = api.sign_up("alice").await;

    // Creates wait on a lock of the task table: requests in flight, and slow.
    let mut locker = db.connect().await;
    locker
        .execute("BEGIN; LOCK TABLE task IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let held: Vec<_> = (0..HELD)
        .map(|i| {
            // A client each: a connection each, as separate callers would have.
            let user = User::new(&Api::new(&base), alice.id, alice.token.clone());
            tokio::spawn(async move {
                user.create_task()
                    .json(&json!({ "title": format!("in flight {i}") }))
                    .try_send()
                    .await
                    .map(|reply| reply.status())
            })
        })
        .collect();
    let mut watcher = db.connect().await;
    wait_until(
        "every create waits on the lock",
        Duration::from_secs(30),
        async || lock_waiters(&mut watcher).await == HELD as i64,
    )
    .await;
    // And one whose body is still arriving when the signal comes.
    let mut slow_body = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let login = br#"{"email":"alice@example.com","password":"password-of-alice"}"#;
    write!(
        slow_body,
        "POST /api/auth/login HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        login.len()
    )
    .unwrap();
    slow_body.write_all(&login[..10]).unwrap();

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );

    // During the grace: readiness says so, and new requests are still served.
    let readiness = wait_for(
        "readiness to answer 503",
        Duration::from_secs(30),
        async || {
            let reply = api.get("/health/ready").try_send().await.ok()?;
            (reply.status() == 503).then(|| reply.value())
        },
    )
    .await;
    assert_eq!(readiness["status"], "not_ready", "{readiness}");
    assert_eq!(readiness["shutting_down"], true, "{readiness}");
    alice.me().expect(200).await;

    // After it: the listener is closed, while the held requests keep the process running.
    wait_until(
        "new connections to be refused",
        Duration::from_secs(30),
        async || {
            matches!(
                TcpStream::connect(("127.0.0.1", port)),
                Err(e) if e.kind() == ErrorKind::ConnectionRefused
            )
        },
    )
    .await;
    assert_eq!(lock_waiters(&mut watcher).await, HELD as i64);

    // Let everything in flight finish.
    slow_body.write_all(&login[10..]).unwrap();
    locker.execute("COMMIT").await.unwrap();
    let mut statuses = Vec::new();
    for request in held {
        statuses.push(request.await.unwrap());
    }
    let failed: Vec<_> = statuses.iter().filter(|s| !matches!(s, Ok(201))).collect();
    assert!(
        failed.is_empty(),
        "{} of {HELD} failed: {failed:?}",
        failed.len()
    );
    let mut answer = String::new();
    slow_body.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("readiness now answers 503"), "{err}");
    assert!(!err.contains("still busy after"), "{err}");
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM task")
        .fetch_one(&mut watcher)
        .await
        .unwrap();
    assert_eq!(created, HELD as i64);
}
