//! Migrations, and the check that the database really has the schema the code expects.
//!
//! The expectation below is written out by hand on purpose: it is a second, independent
//! statement of the schema, so a migration that does something else is caught at startup.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, migrate::Migrator};

/// Every migration under `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

struct Column {
    name: &'static str,
    ty: &'static str,
    not_null: bool,
}

const fn col(name: &'static str, ty: &'static str, not_null: bool) -> Column {
    Column { name, ty, not_null }
}

const TS: &str = "timestamp without time zone";

const TABLES: &[(&str, &[Column])] = &[
    (
        "user",
        &[
            col("id", "integer", true),
            col("username", "character varying(30)", true),
            col("email", "character varying(255)", true),
            col("hashed_password", "character varying(255)", true),
            col("created_at", TS, true),
            col("updated_at", TS, true),
        ],
    ),
    (
        "task",
        &[
            col("id", "integer", true),
            col("user_id", "integer", true),
            col("title", "character varying(200)", true),
            col("description", "text", false),
            col("due_date", "character varying(50)", false),
            col("priority", "priority_enum", true),
            col("tags", "text", false),
            col("recursion_pattern", "character varying(100)", false),
            col("completed", "boolean", true),
            col("created_at", TS, true),
            col("updated_at", TS, true),
            col("due_at", TS, false),
            col("version", "integer", true),
            col("next_occurrence_created", "boolean", true),
            col("completed_at", TS, false),
            col("recurrence_anchor", "date", false),
        ],
    ),
    (
        "session",
        &[
            col("id", "integer", true),
            col("user_id", "integer", true),
            col("token_jti", "character varying(255)", true),
            col("token", "character varying(255)", true),
            col("expires_at", TS, true),
            col("revoked", "boolean", true),
            col("created_at", TS, true),
        ],
    ),
    (
        "login_throttle",
        &[
            col("key", "text", true),
            col("failures", "integer", true),
            col("window_start", TS, true),
        ],
    ),
    (
        "login_known_client",
        &[
            col("user_id", "integer", true),
            col("client", "text", true),
            col("last_login", TS, true),
        ],
    ),
    (
        "task_list",
        &[
            col("user_id", "integer", true),
            col("version", "bigint", true),
            col("tasks", "integer", true),
        ],
    ),
    (
        "task_change",
        &[
            col("user_id", "integer", true),
            col("task_id", "integer", true),
            col("xid", "xid8", true),
            col("changed_at", TS, true),
        ],
    ),
    (
        "task_change_horizon",
        &[
            col("only_row", "boolean", true),
            col("pruned_through", "xid8", true),
        ],
    ),
    (
        "idempotency_key",
        &[
            col("user_id", "integer", true),
            col("key", "character varying(255)", true),
            col("request_hash", "character(64)", true),
            col("task_id", "integer", false),
            col("response_body", "text", false),
            col("created_at", TS, true),
        ],
    ),
];

/// (name, definition as `pg_get_constraintdef` prints it)
const CONSTRAINTS: &[(&str, &str)] = &[
    ("user_pkey", "PRIMARY KEY (id)"),
    ("user_username_key", "UNIQUE (username)"),
    ("user_email_key", "UNIQUE (email)"),
    ("task_pkey", "PRIMARY KEY (id)"),
    (
        "task_user_id_fkey",
        "FOREIGN KEY (user_id) REFERENCES \"user\"(id) ON DELETE CASCADE",
    ),
    ("session_pkey", "PRIMARY KEY (id)"),
    ("session_token_jti_key", "UNIQUE (token_jti)"),
    (
        "session_user_id_fkey",
        "FOREIGN KEY (user_id) REFERENCES \"user\"(id) ON DELETE CASCADE",
    ),
    ("login_throttle_pkey", "PRIMARY KEY (key)"),
    ("task_list_pkey", "PRIMARY KEY (user_id)"),
    ("task_change_horizon_pkey", "PRIMARY KEY (only_row)"),
    ("task_change_horizon_only_row_check", "CHECK (only_row)"),
    ("login_throttle_failures_check", "CHECK ((failures > 0))"),
    ("login_known_client_pkey", "PRIMARY KEY (user_id, client)"),
    (
        "login_known_client_user_id_fkey",
        "FOREIGN KEY (user_id) REFERENCES \"user\"(id) ON DELETE CASCADE",
    ),
    ("idempotency_key_pkey", "PRIMARY KEY (user_id, key)"),
    (
        "idempotency_key_user_id_fkey",
        "FOREIGN KEY (user_id) REFERENCES \"user\"(id) ON DELETE CASCADE",
    ),
];

/// (name, unique, what `pg_indexes.indexdef` says after `USING `)
const INDEXES: &[(&str, bool, &str)] = &[
    ("idx_user_email", false, "btree (email)"),
    ("user_email_lower_key", true, "btree (lower((email)::text))"),
    (
        "user_username_lower_key",
        true,
        "btree (lower((username)::text))",
    ),
    ("idx_task_user_id", false, "btree (user_id)"),
    ("idx_task_completed", false, "btree (completed)"),
    (
        "task_user_created_idx",
        false,
        "btree (user_id, created_at DESC, id DESC)",
    ),
    ("idx_session_token_jti", false, "btree (token_jti)"),
    ("idx_session_user_id", false, "btree (user_id)"),
    ("session_expires_at_idx", false, "btree (expires_at)"),
    (
        "task_user_updated_idx",
        false,
        "btree (user_id, updated_at DESC, id DESC)",
    ),
    (
        "task_user_due_idx",
        false,
        "btree (user_id, COALESCE(due_at, 'infinity'::timestamp without time zone), id)",
    ),
    (
        "idempotency_key_created_at_idx",
        false,
        "btree (created_at)",
    ),
    ("task_title_trgm_idx", false, "gin (title gin_trgm_ops)"),
    ("task_change_user_xid_idx", false, "btree (user_id, xid)"),
    ("task_change_changed_at_idx", false, "btree (changed_at)"),
    (
        "task_description_trgm_idx",
        false,
        "gin (description gin_trgm_ops)",
    ),
];

const ENUMS: &[(&str, &[&str])] = &[("priority_enum", &["High", "Medium", "Low"])];

/// (trigger, table, function)
const TRIGGERS: &[(&str, &str, &str)] = &[
    ("update_user_updated_at", "user", "update_updated_at_column"),
    ("update_task_updated_at", "task", "update_updated_at_column"),
    ("task_before_write", "task", "task_before_write"),
    (
        "session_announce_change",
        "session",
        "session_announce_change",
    ),
    ("task_list_inserted", "task", "task_list_changed"),
    ("task_list_updated", "task", "task_list_changed"),
    ("task_list_deleted", "task", "task_list_changed"),
    ("task_list_truncated", "task", "task_list_truncated"),
    ("task_change_inserted", "task", "task_change_log"),
    ("task_change_updated", "task", "task_change_log"),
    ("task_change_deleted", "task", "task_change_log"),
    ("task_change_truncated", "task", "task_change_truncated"),
];

/// What the schema check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaReport {
    /// Highest migration applied, if any.
    pub version: Option<i64>,
    /// Highest migration this binary knows.
    pub expected_version: i64,
    pub problems: Vec<String>,
}

impl SchemaReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn expected_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies pending migrations. Must run over a direct connection: sqlx holds a
/// session-level advisory lock, which a transaction-mode pooler cannot keep.
pub async fn migrate(conn: &mut PgConnection) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(conn).await
}

/// Compares the live schema with the expectation; every difference is one readable line.
pub async fn verify(conn: &mut PgConnection) -> Result<SchemaReport, sqlx::Error> {
    let mut problems = Vec::new();
    let version = check_migrations(conn, &mut problems).await?;
    check_columns(conn, &mut problems).await?;
    check_constraints(conn, &mut problems).await?;
    check_indexes(conn, &mut problems).await?;
    check_enums(conn, &mut problems).await?;
    check_triggers(conn, &mut problems).await?;
    Ok(SchemaReport {
        version,
        expected_version: expected_version(),
        problems,
    })
}

async fn check_migrations(
    conn: &mut PgConnection,
    problems: &mut Vec<String>,
) -> Result<Option<i64>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        problems.push("no migrations have been applied: run `todo-api migrate`".into());
        return Ok(None);
    }
    let applied: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let known: HashMap<i64, &[u8]> = MIGRATOR
        .iter()
        .map(|m| (m.version, m.checksum.as_ref()))
        .collect();
    for (version, success, checksum) in &applied {
        match known.get(version) {
            None => problems.push(format!(
                "migration {version} is applied but unknown to this binary: the database is newer than the code"
            )),
            Some(_) if !success => problems.push(format!(
                "migration {version} failed part-way: fix the database, then run `todo-api migrate`"
            )),
            Some(expected) if *expected != checksum.as_slice() => problems.push(format!(
                "migration {version} was changed after it was applied"
            )),
            Some(_) => {}
        }
    }
    let done: HashSet<i64> = applied.iter().map(|(v, ..)| *v).collect();
    let pending: Vec<String> = MIGRATOR
        .iter()
        .filter(|m| !done.contains(&m.version))
        .map(|m| m.version.to_string())
        .collect();
    if !pending.is_empty() {
        problems.push(format!(
            "migrations not applied yet: {}: run `todo-api migrate`",
            pending.join(", ")
        ));
    }
    Ok(applied
        .iter()
        .filter(|(_, ok, _)| *ok)
        .map(|(v, ..)| *v)
        .max())
}

async fn check_columns(
    conn: &mut PgConnection,
    problems: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let tables: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = current_schema()::regnamespace
           AND c.relkind = 'r' AND c.relname = ANY($1)
           AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(&tables)
    .fetch_all(&mut *conn)
    .await?;
    let live: HashMap<(&str, &str), (&str, bool)> = rows
        .iter()
        .map(|(t, c, ty, nn)| ((t.as_str(), c.as_str()), (ty.as_str(), *nn)))
        .collect();
    let live_tables: HashSet<&str> = rows.iter().map(|(t, ..)| t.as_str()).collect();
    for (table, columns) in TABLES {
        if !live_tables.contains(table) {
            problems.push(format!("table {table} is missing"));
            continue;
        }
        for column in *columns {
            match live.get(&(*table, column.name)) {
                None => problems.push(format!("column {table}.{} is missing", column.name)),
                Some((ty, _)) if *ty != column.ty => problems.push(format!(
                    "column {table}.{} has type {ty}, expected {}",
                    column.name, column.ty
                )),
                Some((_, not_null)) if *not_null != column.not_null => problems.push(format!(
                    "column {table}.{} should {}be NOT NULL",
                    column.name,
                    if column.not_null { "" } else { "not " }
                )),
                Some(_) => {}
            }
        }
    }
    Ok(())
}

async fn check_constraints(
    conn: &mut PgConnection,
    problems: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT conname::text, pg_get_constraintdef(oid)
         FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut *conn)
    .await?;
    let live: HashMap<&str, &str> = rows.iter().map(|(n, d)| (n.as_str(), d.as_str())).collect();
    for (name, definition) in CONSTRAINTS {
        match live.get(name) {
            None => problems.push(format!("constraint {name} ({definition}) is missing")),
            Some(d) if d != definition => problems.push(format!(
                "constraint {name} is `{d}`, expected `{definition}`"
            )),
            Some(_) => {}
        }
    }
    Ok(())
}

async fn check_indexes(
    conn: &mut PgConnection,
    problems: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await?;
    let live: HashMap<&str, &str> = rows.iter().map(|(n, d)| (n.as_str(), d.as_str())).collect();
    for (name, unique, method) in INDEXES {
        let Some(def) = live.get(name) else {
            problems.push(format!("index {name} is missing"));
            continue;
        };
        let is_unique = def.starts_with("CREATE UNIQUE INDEX");
        let live_method = def
            .split_once(" USING ")
            .map(|(_, m)| m)
            .unwrap_or_default();
        if is_unique != *unique || live_method != *method {
            problems.push(format!(
                "index {name} is `{def}`, expected a {}index USING {method}",
                if *unique { "unique " } else { "" }
            ));
        }
    }
    Ok(())
}

async fn check_enums(
    conn: &mut PgConnection,
    problems: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    for (name, labels) in ENUMS {
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT e.enumlabel::text FROM pg_enum e
             JOIN pg_type t ON t.oid = e.enumtypid
             WHERE t.typname = $1 AND t.typnamespace = current_schema()::regnamespace
             ORDER BY e.enumsortorder",
        )
        .bind(name)
        .fetch_all(&mut *conn)
        .await?;
        if live.is_empty() {
            problems.push(format!("enum type {name} is missing"));
        } else if live != *labels {
            problems.push(format!(
                "enum type {name} has values {live:?}, expected {labels:?}"
            ));
        }
    }
    Ok(())
}

async fn check_triggers(
    conn: &mut PgConnection,
    problems: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT t.tgname::text, c.relname::text, p.proname::text, t.tgenabled <> 'D'
         FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, table, function) in TRIGGERS {
        match rows.iter().find(|(n, t, ..)| n == name && t == table) {
            None => problems.push(format!("trigger {name} on {table} is missing")),
            Some((_, _, f, _)) if f != function => problems.push(format!(
                "trigger {name} on {table} calls {f}, expected {function}"
            )),
            Some((.., false)) => problems.push(format!("trigger {name} on {table} is disabled")),
            Some(_) => {}
        }
    }
    Ok(())
}
