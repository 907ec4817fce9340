//! The database layer: connections, schema, and small typed query functions per table.
//! Nothing here knows about HTTP.

pub mod connect;
pub mod idempotency;
pub mod pooler;
pub mod preflight;
pub mod schema;
pub mod sessions;
pub mod tasks;
pub mod throttle;
pub mod url;
pub mod users;

use sqlx::PgPool;

use self::{connect::ServerInfo, schema::SchemaReport};

/// One connection from the pool: server version, round-trip time, and the schema check.
pub async fn probe(pool: &PgPool) -> Result<(ServerInfo, SchemaReport), sqlx::Error> {
    let result = async {
        let mut conn = pool.acquire().await?;
        let info = connect::server_info(&mut conn).await?;
        let report = schema::verify(&mut conn).await?;
        Ok((info, report))
    }
    .await;
    if let Err(e) = &result {
        connect::note_if_lost(e);
    }
    result
}
