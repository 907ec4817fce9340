//! Is `DATABASE_URL` a transaction-mode pooler, and does it keep sqlx's prepared statements?
//!
//! sqlx prepares a statement in one round trip and executes it in another. A transaction-mode
//! PgBouncer may send the two to different server connections: PgBouncer 1.22+ (what Neon
//! runs) re-prepares transparently, older ones answer "prepared statement does not exist" —
//! or, with unnamed statements, silently run the wrong one. The probe makes that happen on
//! purpose: prepare a statement on one server connection, pin that connection from another
//! client, then execute the statement again.

use sqlx::{Connection, Executor, PgConnection, postgres::PgConnectOptions};

/// How many extra clients may be opened to pin the server connection the statement lives on.
const MAX_PINS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooler {
    /// Every statement ran on the same backend: not a transaction-mode pooler.
    None,
    /// A transaction-mode pooler that re-prepares statements where needed: safe.
    KeepsStatements,
    /// A transaction-mode pooler that loses prepared statements: unsafe for sqlx.
    LosesStatements,
    /// Could not tell (the pooler never handed the statement's backend to another client).
    Unknown,
}

async fn backend_pid(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    // A persistent (named, cached) statement: exactly what the application's queries use.
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
}

fn lost_statement(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|e| {
        e.code().as_deref() == Some("26000") || e.message().contains("prepared statement")
    })
}

pub async fn probe(options: &PgConnectOptions) -> Result<Pooler, sqlx::Error> {
    let mut client = PgConnection::connect_with(options).await?;
    let first = match backend_pid(&mut client).await {
        Ok(pid) => pid,
        Err(e) if lost_statement(&e) => return Ok(Pooler::LosesStatements),
        Err(e) => return Err(e),
    };
    let mut pins = Vec::new();
    let mut pinned = false;
    for _ in 0..MAX_PINS {
        let mut pin = PgConnection::connect_with(options).await?;
        // Simple-protocol statements: no prepared statement is involved in pinning.
        pin.execute(sqlx::raw_sql("BEGIN")).await?;
        let rows = pin
            .fetch_all(sqlx::raw_sql("SELECT pg_backend_pid()"))
            .await?;
        let pid: Option<i32> = rows.first().and_then(|r| sqlx::Row::try_get(r, 0).ok());
        pins.push(pin);
        if pid == Some(first) {
            pinned = true;
            break;
        }
    }
    let verdict = if !pinned {
        // No other client ever got the statement's backend: a dedicated connection.
        match backend_pid(&mut client).await {
            Ok(pid) if pid == first => Pooler::None,
            Ok(_) => Pooler::Unknown,
            Err(e) if lost_statement(&e) => Pooler::LosesStatements,
            Err(e) => return Err(e),
        }
    } else {
        // The statement's backend is busy with another client now.
        match backend_pid(&mut client).await {
            Ok(pid) if pid != first => Pooler::KeepsStatements,
            Ok(_) => Pooler::Unknown,
            Err(e) if lost_statement(&e) => Pooler::LosesStatements,
            Err(e) => return Err(e),
        }
    };
    for mut pin in pins {
        let _ = pin.execute(sqlx::raw_sql("ROLLBACK")).await;
        let _ = pin.close().await;
    }
    let _ = client.close().await;
    Ok(verdict)
}
