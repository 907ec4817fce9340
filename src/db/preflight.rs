//! Data a pending migration cannot accept, found before any migration runs.
//!
//! A database the original backend wrote may hold rows that today's constraints refuse:
//! two accounts whose emails or usernames differ only by letter case break the unique
//! indexes of migration 3. Migrating such a database would stop half-way on a raw index
//! error; instead each conflict is named, with its rows and a way to resolve it, and
//! nothing is changed. The same goes for objects a migration creates that a legacy
//! database already has under the same name.

use std::collections::HashSet;

use sqlx::PgConnection;

/// One check: the migration that introduces a rule, and the rows that break it.
struct Check {
    /// The migration whose constraint the rows break; skipped once it is applied.
    migration: i64,
    /// The column whose values must be unique regardless of case.
    column: &'static str,
    /// How to say it in a sentence.
    noun: &'static str,
}

const CHECKS: &[Check] = &[
    Check {
        migration: 3,
        column: "email",
        noun: "email address",
    },
    Check {
        migration: 3,
        column: "username",
        noun: "username",
    },
];

/// Something a migration creates. A legacy database that already has an object of that
/// name (added by hand, or by another tool) would make the migration fail half-way.
#[derive(Clone, Copy)]
enum Object {
    Table(&'static str),
    Sequence(&'static str),
    Index(&'static str),
    Column(&'static str, &'static str),
    Function(&'static str),
    Trigger(&'static str, &'static str),
}

/// (migration, what it creates), for the objects a contract database does not have. A new
/// migration that creates something adds it here.
const CREATED: &[(i64, Object)] = &[
    (3, Object::Index("user_email_lower_key")),
    (3, Object::Index("user_username_lower_key")),
    (4, Object::Index("task_user_created_idx")),
    (5, Object::Table("login_throttle")),
    (5, Object::Index("session_expires_at_idx")),
    (6, Object::Column("task", "due_at")),
    (6, Object::Column("task", "version")),
    (6, Object::Column("task", "next_occurrence_created")),
    (6, Object::Function("task_due_at")),
    (6, Object::Function("task_before_write")),
    (6, Object::Trigger("task_before_write", "task")),
    (6, Object::Index("task_user_updated_idx")),
    (6, Object::Index("task_user_due_idx")),
    (6, Object::Table("idempotency_key")),
    (6, Object::Index("idempotency_key_created_at_idx")),
    (7, Object::Column("task", "completed_at")),
    (8, Object::Column("task", "recurrence_anchor")),
    (10, Object::Table("login_known_client")),
    (12, Object::Index("task_title_trgm_idx")),
    (12, Object::Index("task_description_trgm_idx")),
    (14, Object::Function("session_announce_change")),
    (14, Object::Trigger("session_announce_change", "session")),
    (15, Object::Sequence("task_list_version_seq")),
    (15, Object::Table("task_list")),
    (15, Object::Function("task_list_moved")),
    (15, Object::Function("task_list_changed")),
    (15, Object::Trigger("task_list_inserted", "task")),
    (15, Object::Trigger("task_list_updated", "task")),
    (15, Object::Trigger("task_list_deleted", "task")),
    (15, Object::Function("task_list_truncated")),
    (15, Object::Trigger("task_list_truncated", "task")),
];

impl Object {
    async fn exists(self, conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
        let query = match self {
            Self::Table(name) | Self::Sequence(name) | Self::Index(name) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_class
                   WHERE relname = $1 AND relnamespace = current_schema()::regnamespace)",
            )
            .bind(name),
            Self::Column(table, column) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = $1
                   AND column_name = $2)",
            )
            .bind(table)
            .bind(column),
            Self::Function(name) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_proc
                   WHERE proname = $1 AND pronamespace = current_schema()::regnamespace)",
            )
            .bind(name),
            Self::Trigger(name, table) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                   WHERE t.tgname = $1 AND c.relname = $2
                   AND c.relnamespace = current_schema()::regnamespace)",
            )
            .bind(name)
            .bind(table),
        };
        query.fetch_one(conn).await
    }

    fn describe(self) -> String {
        match self {
            Self::Table(name) => format!("table {name}"),
            Self::Sequence(name) => format!("sequence (or another relation) named {name}"),
            Self::Index(name) => format!("index (or another relation) named {name}"),
            Self::Column(table, column) => format!("column {table}.{column}"),
            Self::Function(name) => format!("function {name}"),
            Self::Trigger(name, table) => format!("trigger {name} on {table}"),
        }
    }
}

/// Every conflict, one line each, naming the rows and how to resolve it. Empty when the
/// pending migrations can run.
pub async fn conflicts(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let has_users: bool = sqlx::query_scalar(r#"SELECT to_regclass('"user"') IS NOT NULL"#)
        .fetch_one(&mut *conn)
        .await?;
    let applied = applied_migrations(conn).await?;
    let mut lines = Vec::new();
    if has_users {
        for check in CHECKS.iter().filter(|c| !applied.contains(&c.migration)) {
            lines.extend(case_duplicates(conn, check).await?);
        }
    }
    for (migration, object) in CREATED.iter().filter(|(m, _)| !applied.contains(m)) {
        if object.exists(conn).await? {
            lines.push(format!(
                "the database already has a {}, which migration {migration} creates: it is not \
                 part of the original schema, so rename or drop it (after saving anything it \
                 holds)",
                object.describe()
            ));
        }
    }
    Ok(lines)
}

async fn applied_migrations(conn: &mut PgConnection) -> Result<HashSet<i64>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(HashSet::new());
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await?;
    Ok(versions.into_iter().collect())
}

/// Groups of accounts whose `column` values are equal apart from letter case.
async fn case_duplicates(
    conn: &mut PgConnection,
    check: &Check,
) -> Result<Vec<String>, sqlx::Error> {
    // The column name comes from the constant table above, never from input.
    let sql = format!(
        r#"SELECT array_agg(id ORDER BY id), array_agg({col}::text ORDER BY id)
           FROM "user" GROUP BY lower({col}) HAVING count(*) > 1 ORDER BY min(id)"#,
        col = check.column
    );
    let groups: Vec<(Vec<i32>, Vec<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    Ok(groups
        .iter()
        .map(|(ids, values)| describe(check, ids, values))
        .collect())
}

fn describe(check: &Check, ids: &[i32], values: &[String]) -> String {
    let accounts: Vec<String> = ids
        .iter()
        .zip(values)
        .map(|(id, value)| format!("{id} ({value})"))
        .collect();
    let (keep, others) = ids.split_first().map_or((0, &[][..]), |(k, o)| (*k, o));
    let example = others.first().copied().unwrap_or(keep);
    let rename = match check.column {
        "email" => format!(
            r#"UPDATE "user" SET email = 'another-address@example.com' WHERE id = {example}"#
        ),
        _ => format!(
            r#"UPDATE "user" SET username = '{}_{example}' WHERE id = {example}"#,
            values.first().map_or("user", String::as_str)
        ),
    };
    format!(
        "accounts {} have the same {} apart from letter case, which migration {} makes \
         unique: merge them into account {keep} or rename all but one (e.g. `{rename}`); \
         docs/switching.md has the SQL",
        accounts.join(" and "),
        check.noun,
        check.migration,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_names_every_row_and_a_way_out() {
        let line = describe(
            &CHECKS[0],
            &[3, 7],
            &["Bob@example.com".into(), "bob@example.com".into()],
        );
        assert!(line.contains("accounts 3 (Bob@example.com) and 7 (bob@example.com)"));
        assert!(line.contains("same email address apart from letter case"));
        assert!(line.contains("merge them into account 3"));
        assert!(line.contains("WHERE id = 7"));
        assert!(!line.contains('\n'));
    }
}
