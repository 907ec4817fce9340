//! Rolling upgrades: this build keeps serving on a database a later release has migrated,
//! as long as that release only added, and refuses one that removed or changed what it uses.

use serde_json::json;
use sqlx::Executor;
use todo_api::startup::StartupError;

use crate::helpers::{JWT_SECRET, TestApp, TestDb, run_binary};

/// A later release's additive migration (nullable and defaulted columns, a table, indexes
/// built concurrently), as `migrations/` would hold it; the linter passes it (scripts/lint).
const FUTURE_ADDITIVE: &str = include_str!("../fixtures/migrations/0016_future_additive.sql");

/// The version of the later release's migration: far above this build's own, so that the
/// test means the same after the project adds its next migrations.
const FUTURE_VERSION: i64 = 1_000_016;

/// Records a migration of a later release in `_sqlx_migrations`, as sqlx would.
fn record_future(version: i64) -> String {
    format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ({version}, 'from a later release', true, sha384('later')::bytea, 1)"
    )
}

/// A database migrated by this build, then by a later release with `statements`.
async fn migrated_then(statements: &[String]) -> TestDb {
    let db = TestDb::create().await;
    drop(TestApp::build(&db, &[]).await.unwrap());
    let mut conn = db.connect().await;
    for statement in statements {
        conn.execute(sqlx::AssertSqlSafe(statement.clone()))
            .await
            .unwrap();
    }
    db
}

/// The additive sample, one statement at a time (CREATE INDEX CONCURRENTLY runs outside a
/// transaction), then its row in `_sqlx_migrations`.
async fn migrated_by_a_later_additive_release() -> TestDb {
    let mut statements: Vec<String> = FUTURE_ADDITIVE
        .split(';')
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
        .collect();
    statements.push(record_future(FUTURE_VERSION));
    migrated_then(&statements).await
}

async fn refusal(db: &TestDb) -> String {
    match TestApp::build(db, &[]).await {
        Err(e @ StartupError::Schema(_)) => {
            assert_eq!(e.exit_code() as u8, 4);
            e.to_string()
        }
        Err(other) => panic!("expected a schema error, got {other}"),
        Ok(_) => panic!("the server started on a schema it cannot use"),
    }
}

#[tokio::test]
async fn this_build_serves_the_contract_on_a_schema_a_later_release_only_added_to() {
    let db = migrated_by_a_later_additive_release().await;
    let app = TestApp::spawn_on(db, &[]).await;

    let ready = app.get("/health/ready").expect(200).await.value();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["schema"]["ok"], true, "{ready}");
    assert_eq!(ready["schema"]["version"], FUTURE_VERSION, "{ready}");
    assert_eq!(ready["schema"]["newer_migrations"], json!([FUTURE_VERSION]));
    assert!(ready["schema"]["expected_version"].as_i64().unwrap() < FUTURE_VERSION);

    // A smoke test of the contract: every task operation, on rows the later release's
    // columns and table also hold.
    let alice = app.sign_up("alice").await;
    alice.me().expect(200).await;
    let task = alice
        .new_task(json!({ "title": "Ship", "tags": "work", "priority": "High" }))
        .await;
    let archived: bool = sqlx::query_scalar("SELECT archived FROM task WHERE id = $1")
        .bind(i32::try_from(task.id).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!archived, "the later release's default applies");
    app.sql(&format!(
        "INSERT INTO task_note (task_id, body) VALUES ({}, 'written by the later release')",
        task.id
    ))
    .await;
    let listed = alice.list_tasks().expect(200).await.tasks();
    assert_eq!(listed.len(), 1);
    let reply = alice.get_task(task.id).expect(200).await;
    let etag = reply.etag();
    let updated = alice
        .put_task(task.id)
        .if_match(&etag)
        .json(&json!({ "title": "Ship it", "priority": "Low" }))
        .expect(200)
        .await
        .task();
    assert_eq!(updated.title, "Ship it");
    let done = alice.complete_task(task.id).expect(200).await.task();
    assert!(done.completed);
    alice.delete_task(task.id).expect(204).await;
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM task_note")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(notes, 0, "the later release's rows went with the task");
    alice.logout().expect(204).await;
}

#[tokio::test]
async fn the_binary_migrates_and_checks_a_newer_additive_schema_saying_so() {
    let db = migrated_by_a_later_additive_release().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
    ];
    // `migrate` is what `serve` does first: it must neither fail on the unknown version
    // nor try to undo it.
    let out = run_binary(&["migrate"], &env, dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("newer than this build"), "{err}");
    assert!(err.contains(&FUTURE_VERSION.to_string()), "{err}");
    let out = run_binary(&["check"], &env, dir.path());
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.contains("schema    ok"), "{report}");
    assert!(report.contains("newer than this build"), "{report}");
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE version = $1")
            .bind(FUTURE_VERSION)
            .fetch_one(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!(recorded, 1, "the later release's record stays");
}

#[tokio::test]
async fn a_later_release_that_dropped_a_used_column_is_refused_naming_it() {
    let db = migrated_then(&[
        "ALTER TABLE task DROP COLUMN tags".into(),
        record_future(FUTURE_VERSION),
    ])
    .await;
    let message = refusal(&db).await;
    assert!(message.contains("column task.tags is missing"), "{message}");
}

#[tokio::test]
async fn a_later_release_that_changed_a_type_or_added_a_required_column_is_refused() {
    let db = migrated_then(&[
        "ALTER TABLE task ALTER COLUMN title TYPE text".into(),
        "ALTER TABLE task ADD COLUMN owner_team integer NOT NULL".into(),
        record_future(FUTURE_VERSION),
    ])
    .await;
    let message = refusal(&db).await;
    for expected in [
        "column task.title has type text, expected character varying(200)",
        "column task.owner_team, unknown to this build, is NOT NULL without a default",
    ] {
        assert!(message.contains(expected), "{expected} not in {message}");
    }
}

#[tokio::test]
async fn a_changed_migration_of_this_build_is_refused_even_beside_newer_ones() {
    let db = migrated_then(&[
        "UPDATE _sqlx_migrations SET checksum = sha384('edited')::bytea WHERE version = 15".into(),
        record_future(FUTURE_VERSION),
    ])
    .await;
    let message = refusal(&db).await;
    assert!(
        message.contains("migration 15 was changed after it was applied"),
        "{message}"
    );
    // Without a newer migration, sqlx's migrator refuses it too.
    let db = migrated_then(&[
        "UPDATE _sqlx_migrations SET checksum = sha384('edited')::bytea WHERE version = 15".into(),
    ])
    .await;
    let message = refusal(&db).await;
    assert!(message.contains("15"), "{message}");
}

#[tokio::test]
async fn an_unknown_migration_older_than_this_build_is_refused() {
    let db = migrated_then(&[record_future(11)]).await;
    let message = refusal(&db).await;
    assert!(
        message.contains("migration 11 is applied but unknown to this build"),
        "{message}"
    );
}
