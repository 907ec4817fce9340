//! Migrations and the schema check, in process.

use sqlx::Executor;
use todo_api::startup::StartupError;

use crate::helpers::{CONTRACT_SQL, TestApp, TestDb};

async fn schema_error_after(sql: &str) -> String {
    let db = TestDb::create().await;
    // Migrate once through a real start, then break something.
    let app = TestApp::build(&db, &[]).await.unwrap();
    drop(app);
    db.connect()
        .await
        .execute(sqlx::AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap();
    match TestApp::build(&db, &[]).await {
        Err(e @ StartupError::Schema(_)) => {
            assert_eq!(e.exit_code() as u8, 4);
            e.to_string()
        }
        Err(other) => panic!("expected a schema error, got {other}"),
        Ok(_) => panic!("the server started on a broken schema"),
    }
}

#[tokio::test]
async fn a_dropped_index_stops_the_server_with_exit_code_4() {
    let message = schema_error_after("DROP INDEX idx_task_completed").await;
    assert!(
        message.contains("index idx_task_completed is missing"),
        "{message}"
    );
}

#[tokio::test]
async fn a_foreign_key_without_cascade_is_caught() {
    let message = schema_error_after(
        "ALTER TABLE task DROP CONSTRAINT task_user_id_fkey;
         ALTER TABLE task ADD CONSTRAINT task_user_id_fkey FOREIGN KEY (user_id) REFERENCES \"user\"(id)",
    )
    .await;
    assert!(message.contains("task_user_id_fkey"), "{message}");
    assert!(message.contains("ON DELETE CASCADE"), "{message}");
}

#[tokio::test]
async fn a_missing_foreign_key_column_type_enum_value_and_trigger_are_each_listed() {
    let message = schema_error_after(
        "ALTER TABLE session DROP CONSTRAINT session_user_id_fkey;
         ALTER TABLE task ALTER COLUMN tags TYPE varchar(10);
         ALTER TYPE priority_enum ADD VALUE 'Urgent';
         DROP TRIGGER update_task_updated_at ON task;
         ALTER TABLE task ALTER COLUMN title DROP NOT NULL;",
    )
    .await;
    for expected in [
        "constraint session_user_id_fkey",
        "column task.tags has type character varying(10), expected text",
        "enum type priority_enum",
        "trigger update_task_updated_at on task is missing",
        "column task.title should be NOT NULL",
    ] {
        assert!(message.contains(expected), "{expected} not in {message}");
    }
}

#[tokio::test]
async fn the_server_adopts_a_contract_database_with_rows_in_it() {
    let db = TestDb::create().await;
    let mut conn = db.connect().await;
    conn.execute(CONTRACT_SQL).await.unwrap();
    conn.execute(
        r#"INSERT INTO "user" (username, email, hashed_password) VALUES ('carol', 'carol@example.com', 'x');
           INSERT INTO task (user_id, title) SELECT id, 'Existing task' FROM "user";"#,
    )
    .await
    .unwrap();
    let app = TestApp::spawn_on(db, &[]).await;
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM task")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(titles, vec!["Existing task"]);
    assert_eq!(app.get("/health/ready").await.status(), 200);
}

#[tokio::test]
async fn fresh_and_adopted_databases_end_in_the_same_schema() {
    async fn describe(db: &TestDb) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT 'constraint ' || conname, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE connamespace = 'public'::regnamespace
             UNION ALL
             SELECT 'index ' || indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL
             SELECT 'column ' || table_name || '.' || column_name,
                    data_type || coalesce(character_maximum_length::text, '') || is_nullable
                    || coalesce(column_default, '')
               FROM information_schema.columns WHERE table_schema = 'public'
                 AND table_name <> '_sqlx_migrations'
             ORDER BY 1",
        )
        .fetch_all(&mut db.connect().await)
        .await
        .unwrap()
    }
    let fresh = TestDb::create().await;
    drop(TestApp::build(&fresh, &[]).await.unwrap());
    let adopted = TestDb::create().await;
    adopted.connect().await.execute(CONTRACT_SQL).await.unwrap();
    drop(TestApp::build(&adopted, &[]).await.unwrap());
    assert_eq!(describe(&fresh).await, describe(&adopted).await);
}

#[tokio::test]
async fn the_updated_at_trigger_stamps_utc() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    // Even a session in another time zone writes UTC.
    conn.execute("SET TIME ZONE 'Asia/Kolkata'").await.unwrap();
    conn.execute(r#"INSERT INTO "user" (username, email, hashed_password) VALUES ('dave', 'dave@example.com', 'x')"#)
        .await
        .unwrap();
    let skew: f64 = sqlx::query_scalar(
        r#"SELECT abs(extract(epoch FROM (created_at - timezone('utc', now()))))::float8 FROM "user""#,
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(skew < 60.0, "created_at is {skew} s away from UTC now");
}
