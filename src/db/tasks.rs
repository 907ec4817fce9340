//! The `task` table. Every statement filters by the owner: a task id alone reaches nothing.

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

use crate::domain::{
    due_date::DueDate,
    ids::{TaskId, UserId},
    recurrence::RecurrenceRule,
    task::Priority,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: TaskId,
    pub user_id: UserId,
    pub title: String,
    pub description: Option<String>,
    pub due_date: Option<String>,
    pub priority: Priority,
    pub tags: Option<String>,
    pub recursion_pattern: Option<String>,
    pub completed: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
    pub next_occurrence_created: bool,
}

impl TaskRow {
    pub fn state(&self) -> TaskState {
        TaskState {
            title: self.title.clone(),
            description: self.description.clone(),
            due_date: self.due_date.clone(),
            priority: self.priority,
            tags: self.tags.clone(),
            recursion_pattern: self.recursion_pattern.clone(),
            completed: self.completed,
        }
    }
}

/// The writable columns of a task, in their stored form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskState {
    pub title: String,
    pub description: Option<String>,
    pub due_date: Option<String>,
    pub priority: Priority,
    pub tags: Option<String>,
    pub recursion_pattern: Option<String>,
    pub completed: bool,
}

macro_rules! task_columns {
    () => {
        "id, user_id, title, description, due_date, priority, tags, recursion_pattern, completed, \
         created_at, updated_at, version, next_occurrence_created"
    };
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    task: &TaskState,
) -> Result<TaskRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO task (user_id, title, description, due_date, priority, tags, recursion_pattern, completed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
        task_columns!()
    ))
    .bind(user_id)
    .bind(&task.title)
    .bind(&task.description)
    .bind(&task.due_date)
    .bind(task.priority)
    .bind(&task.tags)
    .bind(&task.recursion_pattern)
    .bind(task.completed)
    .fetch_one(db)
    .await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: TaskId,
) -> Result<Option<TaskRow>, sqlx::Error> {
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

/// Reads a task and locks it until the transaction ends, so concurrent changes to it queue.
pub async fn lock(
    tx: &mut PgConnection,
    user_id: UserId,
    id: TaskId,
) -> Result<Option<TaskRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        task_columns!(),
        " FROM task WHERE id = $1 AND user_id = $2 FOR UPDATE"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(tx)
    .await
}

pub async fn update(
    tx: &mut PgConnection,
    user_id: UserId,
    id: TaskId,
    task: &TaskState,
    next_occurrence_created: bool,
) -> Result<TaskRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE task SET title = $3, description = $4, due_date = $5, priority = $6, tags = $7,
                recursion_pattern = $8, completed = $9, next_occurrence_created = $10
         WHERE id = $1 AND user_id = $2 RETURNING ",
        task_columns!()
    ))
    .bind(id)
    .bind(user_id)
    .bind(&task.title)
    .bind(&task.description)
    .bind(&task.due_date)
    .bind(task.priority)
    .bind(&task.tags)
    .bind(&task.recursion_pattern)
    .bind(task.completed)
    .bind(next_occurrence_created)
    .fetch_one(tx)
    .await
}

pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: TaskId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM task WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets `completed` (or flips it, for `None`) in one statement, when that is all a completion
/// does: the task has no recurrence rule, or has already created its next occurrence. `None`
/// when the task is missing or needs [`modify`] (which creates the next occurrence).
pub async fn complete_simple(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: TaskId,
    completed: Option<bool>,
) -> Result<Option<TaskRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE task SET completed = COALESCE($3, NOT completed)
         WHERE id = $1 AND user_id = $2
           AND (recursion_pattern IS NULL OR next_occurrence_created) RETURNING ",
        task_columns!()
    ))
    .bind(id)
    .bind(user_id)
    .bind(completed)
    .fetch_optional(db)
    .await
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
    pub limit: Option<u32>,
    pub after: Option<After>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedTask {
    #[sqlx(flatten)]
    pub task: TaskRow,
    pub sort_key: String,
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

#[derive(Debug, Clone, sqlx::FromRow)]
struct PageRow {
    #[sqlx(flatten)]
    listed: ListedTask,
    total: i64,
}

/// One page of a user's tasks and, when asked for, how many match the filters across all
/// pages.
pub struct Page {
    /// One more than `limit` when another page follows.
    pub rows: Vec<ListedTask>,
    pub total: Option<i64>,
}

/// One page of a user's tasks (one more than `limit`, so the caller knows whether another
/// page follows), in one statement. Counting every match costs as much as reading them all,
/// so it is done only when `count` is asked for: as an uncorrelated subquery of the same
/// statement, which PostgreSQL evaluates once. Only an empty page after a cursor then needs
/// a second statement for the total.
pub async fn list(
    pool: &sqlx::PgPool,
    user_id: UserId,
    query: &ListQuery,
    count: bool,
) -> Result<Page, sqlx::Error> {
    let expr = query.sort.expression();
    let direction = if query.descending { "DESC" } else { "ASC" };
    let mut sql = QueryBuilder::new(concat!("SELECT ", task_columns!(), ", ("));
    sql.push(expr).push(")::text AS sort_key");
    if count {
        sql.push(", (SELECT count(*) FROM task");
        push_filters(&mut sql, user_id, &query.filters);
        sql.push(") AS total");
    }
    sql.push(" FROM task");
    push_filters(&mut sql, user_id, &query.filters);
    if let Some(after) = &query.after {
        let op = if query.descending { "<" } else { ">" };
        sql.push(format_args!(" AND ({expr}, id) {op} ("))
            .push_bind(after.key.clone())
            .push(format_args!("::{}, ", query.sort.key_type()))
            .push_bind(after.id)
            .push(")");
    }
    sql.push(format_args!(" ORDER BY {expr} {direction}, id {direction}"));
    if let Some(limit) = query.limit {
        sql.push(" LIMIT ").push_bind(i64::from(limit) + 1);
    }
    if !count {
        let rows: Vec<ListedTask> = sql.build_query_as().fetch_all(pool).await?;
        return Ok(Page { rows, total: None });
    }
    let rows: Vec<PageRow> = sql.build_query_as().fetch_all(pool).await?;
    let total = match rows.first() {
        Some(first) => first.total,
        None if query.after.is_some() => self::count(pool, user_id, &query.filters).await?,
        None => 0,
    };
    Ok(Page {
        rows: rows.into_iter().map(|r| r.listed).collect(),
        total: Some(total),
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

/// The outcome of a read-modify-write on one task. (Short-lived, so its size is no concern.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Modified<E> {
    NotFound,
    /// The caller's precondition (an `If-Match` ETag) no longer holds.
    Stale,
    Rejected(E),
    Done {
        task: TaskRow,
        /// The next occurrence, when this change completed a recurring task.
        next_occurrence: Option<TaskRow>,
    },
}

/// Changes one task in a transaction that holds its row lock: checks `precondition`,
/// computes the new state with `change`, writes it, and — when the task becomes completed,
/// has a recurrence rule the server understands, and has not created its next occurrence
/// before — creates that occurrence in the same transaction. Concurrent changes to the task
/// queue on the lock, so the next occurrence is created exactly once.
pub async fn modify<E>(
    pool: &sqlx::PgPool,
    user_id: UserId,
    id: TaskId,
    precondition: impl FnOnce(&TaskRow) -> bool,
    change: impl FnOnce(&TaskRow) -> Result<TaskState, E>,
) -> Result<Modified<E>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(current) = lock(&mut tx, user_id, id).await? else {
        return Ok(Modified::NotFound);
    };
    if !precondition(&current) {
        return Ok(Modified::Stale);
    }
    let next = match change(&current) {
        Ok(next) => next,
        Err(e) => return Ok(Modified::Rejected(e)),
    };
    let occurrence = (next.completed && !current.completed && !current.next_occurrence_created)
        .then(|| next_occurrence(&next, chrono::Utc::now().date_naive()))
        .flatten();
    let task = update(
        &mut tx,
        user_id,
        id,
        &next,
        current.next_occurrence_created || occurrence.is_some(),
    )
    .await?;
    let next_occurrence = match occurrence {
        Some(state) => Some(insert(&mut *tx, user_id, &state).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(Modified::Done {
        task,
        next_occurrence,
    })
}

/// The task that follows a completed recurring one: the same fields, not completed, due at
/// the rule's next date after its due date — or after `today` when it had none (or one
/// that does not parse, as rows from before validation may have). `None` when the task has
/// no rule the server understands.
pub fn next_occurrence(done: &TaskState, today: chrono::NaiveDate) -> Option<TaskState> {
    let rule = RecurrenceRule::parse(done.recursion_pattern.as_deref()?).ok()?;
    let due = done
        .due_date
        .as_deref()
        .and_then(|d| DueDate::parse(d).ok())
        .unwrap_or_else(|| DueDate::from_date(today));
    Some(TaskState {
        due_date: Some(rule.next_due(&due).as_str().to_owned()),
        completed: false,
        ..done.clone()
    })
}

/// Deletes a task if `precondition` holds, under its row lock.
pub async fn delete_if(
    pool: &sqlx::PgPool,
    user_id: UserId,
    id: TaskId,
    precondition: impl FnOnce(&TaskRow) -> bool,
) -> Result<Modified<std::convert::Infallible>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(current) = lock(&mut tx, user_id, id).await? else {
        return Ok(Modified::NotFound);
    };
    if !precondition(&current) {
        return Ok(Modified::Stale);
    }
    delete(&mut *tx, user_id, id).await?;
    tx.commit().await?;
    Ok(Modified::Done {
        task: current,
        next_occurrence: None,
    })
}
