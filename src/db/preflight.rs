//! Data a pending migration cannot accept, found before any migration runs.
//!
//! A database the original backend wrote may hold rows that today's constraints refuse:
//! two accounts whose emails or usernames differ only by letter case break the unique
//! indexes of migration 3. Migrating such a database would stop half-way on a raw index
//! error; instead each conflict is named, with its rows and a way to resolve it, and
//! nothing is changed.

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

/// Every conflict, one line each, naming the rows and how to resolve it. Empty when the
/// pending migrations can run.
pub async fn conflicts(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let has_users: bool = sqlx::query_scalar(r#"SELECT to_regclass('"user"') IS NOT NULL"#)
        .fetch_one(&mut *conn)
        .await?;
    if !has_users {
        return Ok(Vec::new());
    }
    let applied = applied_migrations(conn).await?;
    let mut lines = Vec::new();
    for check in CHECKS.iter().filter(|c| !applied.contains(&c.migration)) {
        lines.extend(case_duplicates(conn, check).await?);
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
         the README section \"Switching from the Python backend\" has the SQL",
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
