//! Legacy data that a migration cannot accept: the binary names each conflict, exits 4 and
//! changes nothing; the SQL in docs/switching.md resolves it.

use sqlx::{Executor, PgConnection};

use crate::helpers::{CONTRACT_SQL, JWT_SECRET, TestApp, TestDb, run_binary};

/// Accounts 3 and 7 differ only by the case of their email, 4 and 9 only by the case of
/// their username (the ids of the example in docs/switching.md).
const CONFLICTING_ROWS: &str = r#"
INSERT INTO "user" (id, username, email, hashed_password) VALUES
  (3, 'bob', 'Bob@example.com', 'x'),
  (4, 'Carol', 'carol@example.com', 'x'),
  (7, 'bobby', 'bob@example.com', 'x'),
  (9, 'carol', 'carol.work@example.com', 'x'),
  (10, 'dan', 'dan@example.com', 'x');
INSERT INTO task (user_id, title) VALUES (3, 'one'), (7, 'two'), (7, 'three'), (9, 'four');
INSERT INTO session (user_id, token_jti, token, expires_at)
  VALUES (7, 'jti-7', repeat('7', 64), '2030-01-01');
"#;

/// The SQL in the docs/switching.md block that follows `marker`.
fn readme_sql(marker: &str) -> String {
    let readme = include_str!("../../docs/switching.md");
    let after = &readme[readme
        .find(marker)
        .expect("docs/switching.md has the marker")..];
    let start = after.find("```sql\n").unwrap() + "```sql\n".len();
    let end = after[start..].find("```").unwrap();
    after[start..start + end].to_owned()
}

async fn legacy_db() -> (TestDb, PgConnection) {
    let db = TestDb::create().await;
    let mut conn = db.connect().await;
    conn.execute(CONTRACT_SQL).await.unwrap();
    conn.execute(CONFLICTING_ROWS).await.unwrap();
    (db, conn)
}

/// What must not change while conflicts remain: the rows, and the absence of migrations.
async fn snapshot(conn: &mut PgConnection) -> (Vec<String>, bool) {
    let rows: Vec<String> = sqlx::query_scalar(
        r#"SELECT row_to_json(u)::text FROM "user" u
           UNION ALL SELECT row_to_json(t)::text FROM task t
           UNION ALL SELECT row_to_json(s)::text FROM session s ORDER BY 1"#,
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    (rows, migrated)
}

#[tokio::test]
async fn migrate_and_serve_stop_with_exit_4_naming_each_conflict_and_change_nothing() {
    let (db, mut conn) = legacy_db().await;
    let before = snapshot(&mut conn).await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
    ];
    for command in ["migrate", "serve"] {
        let dir = tempfile::tempdir().unwrap();
        let out = run_binary(&[command], &env, dir.path());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(4), "{command}: {err}");
        let conflicts: Vec<&str> = err.lines().filter(|l| l.starts_with("  - ")).collect();
        assert_eq!(conflicts.len(), 2, "{command}: {err}");
        assert!(
            conflicts[0].contains("accounts 3 (Bob@example.com) and 7 (bob@example.com)")
                && conflicts[0].contains("email address"),
            "{err}"
        );
        assert!(
            conflicts[1].contains("accounts 4 (Carol) and 9 (carol)")
                && conflicts[1].contains("username"),
            "{err}"
        );
        for line in &conflicts {
            assert!(line.contains("merge") && line.contains("rename"), "{line}");
        }
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(
            snapshot(&mut conn).await,
            before,
            "{command} changed the database"
        );
        assert!(!before.1);
    }

    // `check` reports them too, without changing anything.
    let out = run_binary(&["check"], &env, tempfile::tempdir().unwrap().path());
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(4), "{report}");
    assert!(
        report.contains("accounts 3 (Bob@example.com) and 7 (bob@example.com)"),
        "{report}"
    );
    assert_eq!(snapshot(&mut conn).await, before);
}

#[tokio::test]
async fn the_server_refuses_to_build_on_conflicting_data() {
    let (db, _conn) = legacy_db().await;
    match TestApp::build(&db, &[]).await {
        Err(e) => {
            assert_eq!(e.exit_code() as u8, 4);
            assert!(e.to_string().contains("2 conflicts"), "{e}");
        }
        Ok(_) => panic!("the server started on conflicting data"),
    }
}

#[tokio::test]
async fn the_readme_sql_resolves_the_conflicts_and_migrate_then_succeeds() {
    let (db, mut conn) = legacy_db().await;
    conn.execute(sqlx::AssertSqlSafe(readme_sql("<!-- merge-accounts -->")))
        .await
        .unwrap();
    conn.execute(sqlx::AssertSqlSafe(readme_sql("<!-- rename-account -->")))
        .await
        .unwrap();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
    ];
    let out = run_binary(&["migrate"], &env, tempfile::tempdir().unwrap().path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let owners: Vec<(String, i32)> =
        sqlx::query_as("SELECT title, user_id FROM task ORDER BY title")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let expected = [("four", 9), ("one", 3), ("three", 3), ("two", 3)];
    assert_eq!(
        owners,
        expected
            .iter()
            .map(|(t, u)| ((*t).to_owned(), *u))
            .collect::<Vec<_>>()
    );
    let users: Vec<(i32, String, String)> =
        sqlx::query_as(r#"SELECT id, username, email FROM "user" ORDER BY id"#)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(users.len(), 4, "{users:?}");
    assert!(users.iter().all(|(id, ..)| *id != 7));
    assert_eq!(users[2].1, "carol_9");
}

#[tokio::test]
async fn objects_a_migration_would_create_that_already_exist_are_conflicts_too() {
    let db = TestDb::create().await;
    let mut conn = db.connect().await;
    conn.execute(CONTRACT_SQL).await.unwrap();
    conn.execute(
        "ALTER TABLE task ADD COLUMN version INTEGER;
         CREATE TABLE idempotency_key (id SERIAL PRIMARY KEY);",
    )
    .await
    .unwrap();
    let before = snapshot(&mut conn).await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
    ];
    let out = run_binary(&["migrate"], &env, tempfile::tempdir().unwrap().path());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(4), "{err}");
    let conflicts: Vec<&str> = err.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(conflicts.len(), 2, "{err}");
    assert!(
        conflicts[0].contains("column task.version, which migration 6 creates"),
        "{err}"
    );
    assert!(
        conflicts[1].contains("table idempotency_key, which migration 6 creates"),
        "{err}"
    );
    assert_eq!(snapshot(&mut conn).await, before);
}
