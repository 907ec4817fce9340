//! The `user` table.

use chrono::NaiveDateTime;
use sqlx::{PgExecutor, postgres::PgDatabaseError};

use crate::domain::{
    ids::UserId,
    user::{Email, Username},
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub hashed_password: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Which unique rule a new account broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Username,
    Email,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("{0:?} is taken")]
    Taken(Taken),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Maps a unique violation to the rule it broke, by constraint name.
fn taken(err: &sqlx::Error) -> Option<Taken> {
    let db = err
        .as_database_error()?
        .try_downcast_ref::<PgDatabaseError>()?;
    if db.code() != "23505" {
        return None;
    }
    match db.constraint()? {
        "user_email_key" | "user_email_lower_key" => Some(Taken::Email),
        "user_username_key" | "user_username_lower_key" => Some(Taken::Username),
        _ => None,
    }
}

macro_rules! user_columns {
    () => {
        "id, username, email, hashed_password, created_at, updated_at"
    };
}

/// Inserts an account; PostgreSQL's unique indexes decide whether the name or email is taken.
pub async fn insert(
    db: impl PgExecutor<'_>,
    username: &Username,
    email: &Email,
    hashed_password: &str,
) -> Result<UserRow, InsertUserError> {
    sqlx::query_as(concat!(
        r#"INSERT INTO "user" (username, email, hashed_password) VALUES ($1, $2, $3) RETURNING "#,
        user_columns!()
    ))
    .bind(username.as_str())
    .bind(email.as_str())
    .bind(hashed_password)
    .fetch_one(db)
    .await
    .map_err(|e| match taken(&e) {
        Some(which) => InsertUserError::Taken(which),
        None => InsertUserError::Db(e),
    })
}

/// Finds an account by email, ignoring case (rows adopted from the old backend may not be
/// lower-case).
pub async fn find_by_email(
    db: impl PgExecutor<'_>,
    email: &Email,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        r#" FROM "user" WHERE lower(email) = $1"#
    ))
    .bind(email.as_str())
    .fetch_optional(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        r#" FROM "user" WHERE id = $1"#
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    id: UserId,
    hashed_password: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(r#"UPDATE "user" SET hashed_password = $2 WHERE id = $1"#)
        .bind(id)
        .bind(hashed_password)
        .execute(db)
        .await?;
    Ok(())
}
