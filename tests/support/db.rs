//! A fresh PostgreSQL database per test.

use sqlx::{Connection, Executor, PgConnection, PgPool};

/// The server that creates and drops the test databases. CI and `scripts/test` set it;
/// the default is the local PostgreSQL of a development machine.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test, dropped when the value is.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = format!("todo_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect(
                "the test PostgreSQL server must be reachable: TEST_DATABASE_URL, or by default \
                 postgres://postgres@127.0.0.1:5432/postgres (see docs/testing.md#the-test-database)",
            );
        admin
            .execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url()).unwrap();
        url.set_path(&name);
        Self {
            name,
            url: url.to_string(),
        }
    }

    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }

    /// A pool of the server's own kind on this database, of at most `max_connections`,
    /// with its liveness `liveness`.
    pub fn app_pool(
        &self,
        max_connections: u32,
        liveness: std::sync::Arc<todo_api::db::liveness::Liveness>,
    ) -> todo_api::db::pool::Db {
        todo_api::db::connect::pool(
            max_connections,
            std::time::Duration::from_secs(5),
            self.url.parse().unwrap(),
            liveness,
            std::sync::Arc::new(|| {}),
        )
        .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async code; a thread of its own may block on a small runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}
