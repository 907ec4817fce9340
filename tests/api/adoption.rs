//! Adopting a database the original backend created: migrating it changes no byte of any
//! existing row.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sqlx::{Executor, PgConnection};

use crate::helpers::{CONTRACT_SQL, TestApp, TestDb};

/// Rows as the original backend wrote them: explicit timestamps in the past (with
/// microseconds), bcrypt hashes, mixed-case addresses, free-text due dates and recurrences,
/// revoked and live sessions.
pub const LEGACY_ROWS: &str = r#"
INSERT INTO "user" (username, email, hashed_password, created_at, updated_at) VALUES
  ('Alice_1', 'Alice@Example.com', '$2b$12$KIXQJqVDnOC1mXJ5bQ9xWeO4E0rQx1yQn7b9o3i6Dg2Y3l2bM3a6u',
   '2025-03-01 08:00:00.123456', '2025-04-02 09:10:11.654321'),
  ('bob', 'bob@example.com', '$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW',
   '2025-05-05 05:05:05', '2025-05-05 05:05:05');

INSERT INTO task (user_id, title, description, due_date, priority, tags, recursion_pattern,
                  completed, created_at, updated_at) VALUES
  (1, 'Pay rent', 'before the 5th', 'next friday', 'High', 'home,bills', 'every other day',
   false, '2025-06-01 10:00:00.5', '2025-06-02 11:00:00.25'),
  (1, 'Dentist', NULL, '2026-12-01', 'Medium', NULL, NULL,
   true, '2025-06-03 10:00:00', '2025-06-04 12:34:56.789012'),
  (1, 'Call', '', '2026-12-01T09:30:00+05:30', 'Low', ' work , ,work', 'weekly',
   false, '2025-06-05 00:00:00', '2025-06-05 00:00:01'),
  (2, 'Read', 'chapter 3', NULL, 'Medium', 'leisure', 'monthly',
   false, '2025-07-01 07:00:00', '2025-07-09 07:00:00'),
  (2, 'Garbage date', NULL, '2026-02-30', 'Low', NULL, 'whenever I feel like it',
   true, '2025-07-02 07:00:00', '2025-07-03 07:00:00');

INSERT INTO session (user_id, token_jti, token, expires_at, revoked, created_at) VALUES
  (1, 'f3b1c2d4-0000-4000-8000-000000000001', repeat('a', 64), '2030-01-01 00:00:00', false,
   '2025-06-01 10:00:00.000001'),
  (1, 'f3b1c2d4-0000-4000-8000-000000000002', repeat('b', 64), '2025-06-02 10:00:00', true,
   '2025-06-01 10:00:00'),
  (2, 'f3b1c2d4-0000-4000-8000-000000000003', repeat('c', 64), '2025-07-02 10:00:00', false,
   '2025-07-01 10:00:00');
"#;

/// The tables the original backend created.
const LEGACY_TABLES: [&str; 3] = ["user", "task", "session"];

/// Every row of `table` as a JSON object of all its columns, by primary key.
async fn rows(conn: &mut PgConnection, table: &str) -> BTreeMap<i64, Map<String, Value>> {
    let sql = format!(r#"SELECT row_to_json(t)::text FROM "{table}" t ORDER BY id"#);
    let texts: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .unwrap();
    texts
        .iter()
        .map(|t| {
            let Value::Object(row) = serde_json::from_str(t).unwrap() else {
                panic!("not an object: {t}")
            };
            (row["id"].as_i64().unwrap(), row)
        })
        .collect()
}

#[tokio::test]
async fn adopting_a_legacy_database_leaves_every_column_of_every_row_unchanged() {
    let db = TestDb::create().await;
    let mut conn = db.connect().await;
    conn.execute(CONTRACT_SQL).await.unwrap();
    conn.execute(LEGACY_ROWS).await.unwrap();
    let mut before = BTreeMap::new();
    for table in LEGACY_TABLES {
        before.insert(table, rows(&mut conn, table).await);
    }

    drop(
        TestApp::build(&db, &[])
            .await
            .expect("the legacy database is adopted"),
    );

    for table in LEGACY_TABLES {
        let old = &before[table];
        let new = rows(&mut conn, table).await;
        assert_eq!(
            old.keys().collect::<Vec<_>>(),
            new.keys().collect::<Vec<_>>(),
            "{table}: the same rows"
        );
        let columns: Vec<&String> = old.values().next().unwrap().keys().collect();
        let added: Vec<&String> = new
            .values()
            .next()
            .unwrap()
            .keys()
            .filter(|c| !columns.contains(c))
            .collect();
        for (id, old_row) in old {
            let new_row = &new[id];
            for column in &columns {
                assert_eq!(
                    old_row[column.as_str()],
                    new_row[column.as_str()],
                    "{table} id {id}: column {column} changed"
                );
            }
        }
        eprintln!(
            "{table}: {} rows, all {} original columns identical ({}); added by migrations: {}",
            old.len(),
            columns.len(),
            columns
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if added.is_empty() {
                "none".to_owned()
            } else {
                added
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
}

#[tokio::test]
async fn adopted_tasks_get_the_new_columns_defaults_and_a_due_moment_when_it_parses() {
    let db = TestDb::create().await;
    let mut conn = db.connect().await;
    conn.execute(CONTRACT_SQL).await.unwrap();
    conn.execute(LEGACY_ROWS).await.unwrap();
    drop(TestApp::build(&db, &[]).await.unwrap());
    let tasks: Vec<(String, i32, bool, Option<String>)> = sqlx::query_as(
        "SELECT title, version, next_occurrence_created, due_at::text FROM task ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let expect =
        |title: &str, due_at: Option<&str>| (title.to_owned(), 1, false, due_at.map(str::to_owned));
    assert_eq!(
        tasks,
        vec![
            expect("Pay rent", None),
            expect("Dentist", Some("2026-12-01 00:00:00")),
            expect("Call", Some("2026-12-01 04:00:00")),
            expect("Read", None),
            expect("Garbage date", None),
        ]
    );
    // The trigger that was switched off for the backfill is on again.
    let disabled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'task'::regclass
           AND NOT tgisinternal AND tgenabled = 'D'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(disabled, 0);
    // Every user has a list version, so their lists can be kept from the first request.
    let (users, unversioned): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS
           (SELECT 1 FROM task_list v WHERE v.user_id = u.id))
         FROM \"user\" u",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(users > 0);
    assert_eq!(unversioned, 0);
}
