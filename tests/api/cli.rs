//! The binary as an operator meets it: exit codes, one clear line, no secrets, no files.

use std::time::{Duration, Instant};

use sqlx::Executor;

use crate::helpers::{CONTRACT_SQL, JWT_SECRET, TestDb, run_binary, until_live};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_dir_empty(dir: &std::path::Path) {
    let entries: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(entries.is_empty(), "files appeared: {entries:?}");
}

#[test]
fn bad_configuration_exits_2_naming_the_variable_and_creates_no_file() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[("JWT_SECRET", JWT_SECRET)], "DATABASE_URL", "not set"),
        (
            &[("DATABASE_URL", ""), ("JWT_SECRET", JWT_SECRET)],
            "DATABASE_URL",
            "not set",
        ),
        (
            &[
                ("DATABASE_URL", "sqlite:///./todo_app.db"),
                ("JWT_SECRET", JWT_SECRET),
            ],
            "DATABASE_URL",
            "SQLite",
        ),
        (
            &[
                ("DATABASE_URL", "mysql://root:hunter2hunter2@localhost/db"),
                ("JWT_SECRET", JWT_SECRET),
            ],
            "DATABASE_URL",
            "mysql://",
        ),
        (
            &[
                (
                    "DATABASE_URL",
                    "postgres://user:hunter2hunter2@host:notaport/db",
                ),
                ("JWT_SECRET", JWT_SECRET),
            ],
            "DATABASE_URL",
            "not a valid URL",
        ),
        (
            &[
                (
                    "DATABASE_URL",
                    "postgres://user:hunter2hunter2@host/db?sslmode=sometimes",
                ),
                ("JWT_SECRET", JWT_SECRET),
            ],
            "DATABASE_URL",
            "sslmode",
        ),
        (
            &[("DATABASE_URL", "postgres://u@localhost/db")],
            "JWT_SECRET",
            "not set",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://u@localhost/db"),
                ("JWT_SECRET", "hunter2hunter2"),
            ],
            "JWT_SECRET",
            "at least 32 bytes",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://u@localhost/db"),
                ("JWT_SECRET", JWT_SECRET),
                ("PORT", "http"),
            ],
            "PORT",
            "whole number",
        ),
    ];
    for (env, variable, words) in cases {
        for command in ["serve", "migrate"] {
            let dir = tempfile::tempdir().unwrap();
            let out = run_binary(&[command], env, dir.path());
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command} {env:?}: {err}");
            let line = err
                .lines()
                .find(|l| l.starts_with("todo-api:"))
                .unwrap_or_default();
            assert!(
                line.contains(variable) && line.contains(words),
                "{env:?}: {err}"
            );
            assert!(!err.contains("hunter2hunter2"), "secret printed: {err}");
            assert_dir_empty(dir.path());
        }
    }
}

#[test]
fn an_unreachable_database_exits_3_within_the_connect_timeout_naming_host_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run_binary(
        &["serve"],
        &[
            // Port 1 on loopback: nothing listens there, so every attempt is refused.
            (
                "DATABASE_URL",
                "postgres://app:s3cretpassw0rd@127.0.0.1:1/todo",
            ),
            ("JWT_SECRET", JWT_SECRET),
            ("DB_CONNECT_TIMEOUT", "2s"),
        ],
        dir.path(),
    );
    let elapsed = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("127.0.0.1") && err.contains("refused"),
        "{err}"
    );
    assert!(!err.contains("s3cretpassw0rd"), "{err}");
    // It retried for the whole budget rather than giving up at once, and did not hang.
    assert!(
        elapsed >= Duration::from_millis(1500),
        "gave up after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_dir_empty(dir.path());
}

#[tokio::test]
async fn a_wrong_password_or_database_name_exits_3_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut url = url::Url::parse(&crate::helpers::admin_url()).unwrap();
    url.set_path("todo_no_such_database");
    let out = run_binary(
        &["check"],
        &[("DATABASE_URL", url.as_str()), ("JWT_SECRET", JWT_SECRET)],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("todo_no_such_database` does not exist"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn migrate_adopts_a_database_created_from_the_contract_schema_keeping_every_row() {
    let db = TestDb::create().await;
    let mut conn = db.connect().await;
    conn.execute(CONTRACT_SQL).await.unwrap();
    conn.execute(
        r#"INSERT INTO "user" (username, email, hashed_password) VALUES
             ('alice', 'alice@example.com', '$2b$12$abcdefghijklmnopqrstuuJ9Q1cI8K7bGQ7mZ8n3p4x5y6z7A8B9C'),
             ('bob', 'bob@example.com', '$2b$12$abcdefghijklmnopqrstuuJ9Q1cI8K7bGQ7mZ8n3p4x5y6z7A8B9C');
           INSERT INTO task (user_id, title, description, due_date, priority, tags, recursion_pattern, completed)
           SELECT id, 'Buy milk', 'two litres', '2026-12-01', 'High', 'home,errands', 'weekly', false
           FROM "user" WHERE username = 'alice';
           INSERT INTO session (user_id, token_jti, token, expires_at)
           SELECT id, 'jti-1', 'hash', now() + interval '1 day' FROM "user" WHERE username = 'bob';"#,
    )
    .await
    .unwrap();
    let before: Vec<(i32, String, Option<String>, String)> =
        sqlx::query_as("SELECT id, title, tags, priority::text FROM task ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
    ];
    let out = run_binary(&["migrate"], &env, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let after: Vec<(i32, String, Option<String>, String)> =
        sqlx::query_as("SELECT id, title, tags, priority::text FROM task ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(before, after);
    let users: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM session")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!((users, sessions), (2, 1));

    let out = run_binary(&["check"], &env, dir.path());
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.contains("schema    ok"), "{report}");
    assert!(!report.contains("FAIL"), "{report}");
    // Migrating again changes nothing and still succeeds.
    let out = run_binary(&["migrate"], &env, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_dir_empty(dir.path());
}

#[tokio::test]
async fn check_reports_an_unmigrated_database_with_exit_4_and_changes_nothing() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
    ];
    let out = run_binary(&["check"], &env, dir.path());
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{report}");
    assert!(report.contains("config    ok"), "{report}");
    assert!(report.contains("database  ok"), "{report}");
    assert!(report.contains("todo-api migrate"), "{report}");
    let mut conn = db.connect().await;
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(tables, 0, "check must not create anything");
}

#[test]
fn openapi_prints_the_document_without_any_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(&["openapi"], &[], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["info"]["title"], "todo-api");
    let out = run_binary(&["openapi", "--format", "yaml"], &[], dir.path());
    assert!(stdout(&out).contains("openapi: 3.0.0"), "{}", stdout(&out));
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(&["--help"], &[], dir.path());
    let help = stdout(&out);
    for word in [
        "serve",
        "migrate",
        "check",
        "openapi",
        "2 bad configuration",
        "3 database unreachable",
        "4 schema problem",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let db = TestDb::create().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .env_clear()
        .envs([
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", JWT_SECRET),
            ("PORT", port.as_str()),
            ("METRICS_ADDR", "off"),
        ])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_live(&format!("http://127.0.0.1:{port}")).await;
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("shutdown signal received") && err.contains("stopped"),
        "{err}"
    );
    assert_dir_empty(dir.path());
}
