//! The `task` table. Every statement filters by the owner: a task id alone reaches nothing.
//! Writes take the version the caller read: a task changed meanwhile is not overwritten.

use chrono::NaiveDateTime;
use sqlx::{
    Connection, FromRow, PgConnection, PgExecutor, Postgres, QueryBuilder, Row, postgres::PgRow,
};

use crate::domain::{
    ids::{TaskId, UserId},
    task::{Change, Fields, Priority, Task},
};

/// The columns every statement reads a task from, in the order [`task_at`] decodes them.
macro_rules! task_columns {
    () => {
        "id, user_id, title, description, due_date, priority, tags, recursion_pattern, completed, \
         completed_at, recurrence_anchor, next_occurrence_created, version, created_at, updated_at"
    };
}
pub(crate) use task_columns;
/// Binds a task's writable fields to `$query`, in the order [`insert_within`] and [`update`]
/// list their columns.
macro_rules! bind_fields {
    ($query:expr, $fields:expr) => {{
        let fields: &Fields = $fields;
        $query
            .bind(&fields.title)
            .bind(&fields.description)
            .bind(&fields.due_date)
            .bind(fields.priority)
            .bind(&fields.tags)
            .bind(&fields.recursion_pattern)
            .bind(fields.completed)
            .bind(fields.completed_at)
            .bind(fields.recurrence_anchor)
            .bind(fields.next_occurrence_created)
    }};
}

/// How many columns [`task_columns`] names; a list's own columns follow them.
pub(crate) const TASK_COLUMNS: usize = 15;

/// The task in the row's first [`TASK_COLUMNS`] columns, read by position: a list decodes
/// fifteen columns of up to 501 rows, and looking each one up by name (a hash per value)
/// cost more than the rest of the decoding.
fn task_at(row: &PgRow) -> Result<Task, sqlx::Error> {
    task_from(row, 0)
}

/// The task in the row's [`TASK_COLUMNS`] columns from `at` on.
pub(crate) fn task_from(row: &PgRow, at: usize) -> Result<Task, sqlx::Error> {
    Ok(Task {
        id: row.try_get(at)?,
        user_id: row.try_get(at + 1)?,
        fields: Fields {
            title: row.try_get(at + 2)?,
            description: row.try_get(at + 3)?,
            due_date: row.try_get(at + 4)?,
            priority: row.try_get(at + 5)?,
            tags: row.try_get(at + 6)?,
            recursion_pattern: row.try_get(at + 7)?,
            completed: row.try_get(at + 8)?,
            completed_at: row.try_get(at + 9)?,
            recurrence_anchor: row.try_get(at + 10)?,
            next_occurrence_created: row.try_get(at + 11)?,
        },
        version: row.try_get(at + 12)?,
        created_at: row.try_get(at + 13)?,
        updated_at: row.try_get(at + 14)?,
    })
}

impl FromRow<'_, PgRow> for Task {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        task_at(row)
    }
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    task: &Fields,
) -> Result<Task, sqlx::Error> {
    insert_within(db, user_id, task, None)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Inserts a task unless its owner already holds `quota` tasks (`None` when they do). Two
/// concurrent inserts can both pass a quota of one left: a quota bounds, it does not count
/// exactly. The count is the one `task_list` keeps (`migrations/0015_task_list.sql`); only
/// a user without a row yet has their tasks counted.
pub async fn insert_within(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    task: &Fields,
    quota: Option<u32>,
) -> Result<Option<Task>, sqlx::Error> {
    // Two statements rather than one with `$12 IS NULL OR …`: PostgreSQL planned that one
    // anew for every call (a custom plan each time, 40 % of the INSERT's time).
    macro_rules! insert_task {
        ($condition:literal) => {
            concat!(
                "INSERT INTO task (user_id, title, description, due_date, priority, tags,
                                   recursion_pattern, completed, completed_at, recurrence_anchor,
                                   next_occurrence_created)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 ",
                $condition,
                " RETURNING ",
                task_columns!()
            )
        };
    }
    let sql = match quota {
        None => insert_task!(""),
        Some(_) => insert_task!(
            "WHERE coalesce((SELECT tasks FROM task_list WHERE user_id = $1),
                            (SELECT count(*) FROM task WHERE user_id = $1)) < $12"
        ),
    };
    let query = bind_fields!(sqlx::query_as(sql).bind(user_id), task);
    match quota {
        None => query,
        Some(quota) => query.bind(i64::from(quota)),
    }
    .fetch_optional(db)
    .await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: TaskId,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        task_columns!(),
        " FROM task WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// What a versioned write found.
pub enum Written<T> {
    /// The task was at the version it was decided on, and is written.
    Done(T),
    /// Another write came first: the task as it is now (read by the same statement).
    Moved(Task),
    /// The task is gone (or is not the user's).
    Gone,
}

/// Writes `task`'s new fields if it is still at the version `task` was read at. When it is
/// not, the same statement answers with the task as it is, so a retry needs no read of its
/// own: the write is a data-modifying CTE, and the rest of the statement sees the task as
/// it was when the statement began.
pub async fn update(
    db: impl PgExecutor<'_>,
    task: &Task,
    fields: &Fields,
) -> Result<Written<Task>, sqlx::Error> {
    let statement = sqlx::query(concat!(
        "WITH written AS (
                 UPDATE task SET title = $4, description = $5, due_date = $6, priority = $7,
                        tags = $8, recursion_pattern = $9, completed = $10, completed_at = $11,
                        recurrence_anchor = $12, next_occurrence_created = $13
                 WHERE id = $1 AND user_id = $2 AND version = $3 RETURNING ",
        task_columns!(),
        ")
             SELECT *, true FROM written
             UNION ALL
             SELECT ",
        task_columns!(),
        ", false FROM task
             WHERE id = $1 AND user_id = $2 AND NOT EXISTS (SELECT FROM written)"
    ))
    .bind(task.id)
    .bind(task.user_id)
    .bind(task.version);
    let row: Option<PgRow> = bind_fields!(statement, fields).fetch_optional(db).await?;
    let Some(row) = row else {
        return Ok(Written::Gone);
    };
    let found = task_at(&row)?;
    Ok(if row.try_get::<bool, _>(TASK_COLUMNS)? {
        Written::Done(found)
    } else {
        Written::Moved(found)
    })
}

/// Applies `change` to `task` (decided at its version) and creates the next occurrence it
/// brings, in one transaction: either both happen or neither. Since only one write can move
/// a version, the occurrence is created once.
pub async fn change(
    conn: &mut PgConnection,
    task: &Task,
    change: &Change,
) -> Result<Written<(Task, Option<Task>)>, sqlx::Error> {
    let Some(next) = &change.next_occurrence else {
        return Ok(match update(conn, task, &change.fields).await? {
            Written::Done(updated) => Written::Done((updated, None)),
            Written::Moved(now) => Written::Moved(now),
            Written::Gone => Written::Gone,
        });
    };
    let mut tx = conn.begin().await?;
    let updated = match update(&mut *tx, task, &change.fields).await? {
        Written::Done(updated) => updated,
        Written::Moved(now) => return Ok(Written::Moved(now)),
        Written::Gone => return Ok(Written::Gone),
    };
    let created = insert(&mut *tx, task.user_id, next).await?;
    tx.commit().await?;
    Ok(Written::Done((updated, Some(created))))
}

/// Deletes a task; with a version, only if it is still at that version. Whether a row went.
pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: TaskId,
    version: Option<i32>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM task WHERE id = $1 AND user_id = $2 AND ($3::integer IS NULL OR version = $3)",
    )
    .bind(id)
    .bind(user_id)
    .bind(version)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    UpdatedAt,
    DueDate,
    Priority,
    Title,
}

impl SortKey {
    /// The expression ordered by; keyset pagination compares the same expression. Tasks
    /// without a due date sort as if due at infinity (matching `task_user_due_idx`).
    fn expression(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::DueDate => "COALESCE(due_at, 'infinity'::timestamp)",
            Self::Priority => "(CASE priority WHEN 'High' THEN 3 WHEN 'Medium' THEN 2 ELSE 1 END)",
            Self::Title => "lower(title)",
        }
    }

    /// The SQL type a cursor's key (kept as text) is cast back to.
    fn key_type(self) -> &'static str {
        match self {
            Self::CreatedAt | Self::UpdatedAt | Self::DueDate => "timestamp",
            Self::Priority => "integer",
            Self::Title => "text",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    /// Text searched for in title and description, case-insensitively.
    pub text: Option<String>,
    pub due_before: Option<NaiveDateTime>,
    pub due_after: Option<NaiveDateTime>,
}

/// Where the previous page ended: its last task's sort key (as text) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub key: String,
    pub id: TaskId,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filters: Filters,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: u32,
    pub after: Option<After>,
}

/// A listed task and its sort key as text (where a cursor after it starts).
#[derive(Debug, Clone)]
pub struct ListedTask {
    pub task: Task,
    pub sort_key: String,
}

impl FromRow<'_, PgRow> for ListedTask {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            task: task_at(row)?,
            sort_key: row.try_get(TASK_COLUMNS)?,
        })
    }
}

fn push_filters(sql: &mut QueryBuilder<Postgres>, user_id: UserId, filters: &Filters) {
    sql.push(" WHERE user_id = ").push_bind(user_id);
    if let Some(completed) = filters.completed {
        sql.push(" AND completed = ").push_bind(completed);
    }
    if let Some(priority) = filters.priority {
        sql.push(" AND priority = ").push_bind(priority);
    }
    if let Some(tag) = &filters.tag {
        sql.push(" AND lower(")
            .push_bind(tag.clone())
            .push(") = ANY(string_to_array(lower(tags), ','))");
    }
    if let Some(text) = &filters.text {
        let pattern = format!("%{}%", escape_like(text));
        sql.push(" AND (title ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR description ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    if let Some(before) = filters.due_before {
        sql.push(" AND due_at < ").push_bind(before);
    }
    if let Some(after) = filters.due_after {
        sql.push(" AND due_at > ").push_bind(after);
    }
}

/// `%`, `_` and `\` match themselves in a search, not as wildcards.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One page of a user's tasks and how many match the filters across all pages.
pub struct Page {
    /// One more than `limit` when another page follows.
    pub rows: Vec<ListedTask>,
    /// How many match across all pages, when counted.
    pub total: Option<i64>,
}

/// What [`list`] found.
pub enum Listing {
    /// The user's tasks have not changed since the version the caller holds.
    Unchanged,
    /// The page as it is now, and the user's list version it was read at (`None`: the user
    /// has none yet, and the page must not be kept).
    Read { page: Page, version: Option<i64> },
}

/// One page of a user's tasks (one more than `limit`, so the caller knows whether another
/// page follows), in one statement, unless the user's tasks are still at version `known`
/// (see `migrations/0015_task_list.sql`): then the statement reads only the version,
/// and PostgreSQL never runs the page's scan (it is a one-time filter). The version comes
/// in the same statement, so from the same snapshot as the page.
///
/// Counting every match costs as much as reading them all, so it is done only when `count`
/// is asked for: as an uncorrelated subquery of the same statement, which PostgreSQL
/// evaluates once. Only an empty page after a cursor then needs a second statement for the
/// total.
pub async fn list(
    conn: &mut PgConnection,
    user_id: UserId,
    query: &ListQuery,
    count: bool,
    known: Option<i64>,
) -> Result<Listing, sqlx::Error> {
    let expr = query.sort.expression();
    let direction = if query.descending { "DESC" } else { "ASC" };
    // The page is the inner side of a lateral join with one outer row: its rows keep their
    // order, and an unchanged list still yields one row, with the version and no task.
    let mut sql = QueryBuilder::new(
        "SELECT p.*, v.version FROM (SELECT (SELECT version FROM task_list WHERE user_id = ",
    );
    // OFFSET 0 keeps the version a column of its own: pulled up, its subquery would be
    // copied to each place the version is used, and run once for each.
    sql.push_bind(user_id.0)
        .push(") OFFSET 0) AS v(version) LEFT JOIN LATERAL (SELECT ")
        .push(task_columns!())
        .push(", (")
        .push(expr)
        .push(")::text AS sort_key");
    if count {
        sql.push(", (SELECT count(*) FROM task");
        push_filters(&mut sql, user_id, &query.filters);
        sql.push(") AS total");
    }
    sql.push(" FROM task");
    push_filters(&mut sql, user_id, &query.filters);
    // Versions start at 1: 0 stands for none known.
    sql.push(" AND (v.version IS NULL OR v.version <> ")
        .push_bind(known.unwrap_or(0))
        .push(")");
    if let Some(after) = &query.after {
        let op = if query.descending { "<" } else { ">" };
        sql.push(format_args!(" AND ({expr}, id) {op} ("))
            .push_bind(after.key.clone())
            .push(format_args!("::{}, ", query.sort.key_type()))
            .push_bind(after.id)
            .push(")");
    }
    sql.push(format_args!(" ORDER BY {expr} {direction}, id {direction}"));
    sql.push(" LIMIT ").push_bind(i64::from(query.limit) + 1);
    sql.push(") AS p ON true");
    let rows: Vec<PgRow> = sql.build().fetch_all(&mut *conn).await?;
    let Some(first) = rows.first() else {
        return Err(sqlx::Error::RowNotFound);
    };
    let version: Option<i64> = first.try_get(first.len() - 1)?;
    let is_task = |row: &PgRow| row.try_get::<Option<i32>, _>(0).map(|id| id.is_some());
    if !is_task(first)? {
        if known.is_some() && version == known {
            return Ok(Listing::Unchanged);
        }
        let total = match (count, query.after.is_some()) {
            (false, _) => None,
            (true, true) => Some(self::count(conn, user_id, &query.filters).await?),
            (true, false) => Some(0),
        };
        let page = Page {
            rows: Vec::new(),
            total,
        };
        return Ok(Listing::Read { page, version });
    }
    let total = if count {
        Some(first.try_get(TASK_COLUMNS + 1)?)
    } else {
        None
    };
    let rows = rows
        .iter()
        .map(ListedTask::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Listing::Read {
        page: Page { rows, total },
        version,
    })
}

/// How many tasks match the filters, across all pages.
async fn count(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    filters: &Filters,
) -> Result<i64, sqlx::Error> {
    let mut sql = QueryBuilder::new("SELECT count(*) FROM task");
    push_filters(&mut sql, user_id, filters);
    sql.build_query_scalar().fetch_one(db).await
}
