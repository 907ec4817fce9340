//! Servers under test: `Server` is one running instance on a free port; `TestApp` is one on a
//! fresh database of its own, with a pool for looking at that database directly.

use std::{
    collections::HashMap,
    net::SocketAddr,
    ops::{Deref, DerefMut},
    sync::Arc,
};

use sqlx::PgPool;
use todo_api::{
    config::Settings,
    startup::{Application, StartupError},
};
use tokio::{sync::oneshot, task::JoinHandle};

use super::{client::Api, db::TestDb};

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Settings on a free port with the test signing key, `vars` applied last.
pub fn settings_from(vars: &[(&str, &str)]) -> Settings {
    // Parallel servers must not collide on the metrics port: tests that scrape turn it on.
    let mut map: HashMap<String, String> = [
        ("JWT_SECRET", JWT_SECRET),
        ("PORT", "0"),
        ("METRICS_ADDR", "off"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in vars {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_env(&move |name: &str| map.get(name).cloned()).unwrap()
}

/// Settings for a test server on `database_url`, with `overrides` applied last.
pub fn settings(database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut vars = vec![("DATABASE_URL", database_url), ("DB_CONNECT_TIMEOUT", "5s")];
    vars.extend_from_slice(overrides);
    settings_from(&vars)
}

/// One running server.
pub struct Server {
    pub addr: SocketAddr,
    api: Api,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn build(vars: &[(&str, &str)]) -> Result<Application, StartupError> {
        Application::build(settings_from(vars)).await
    }

    pub async fn start(vars: &[(&str, &str)]) -> Self {
        Self::run(Self::build(vars).await.expect("the server starts"))
    }

    pub fn run(app: Application) -> Self {
        let addr = app.addr();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            api: Api::new(&format!("http://{addr}")),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub fn take_server(&mut self) -> JoinHandle<std::io::Result<()>> {
        self.server.take().unwrap()
    }

    /// Stops the server and waits until it has.
    pub async fn stop(mut self) {
        self.begin_stop();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Deref for Server {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.begin_stop();
    }
}

/// A server on a database of its own.
pub struct TestApp {
    server: Server,
    pub db: Arc<TestDb>,
    /// A pool of the test's own, for looking at the database directly.
    pub pool: PgPool,
}

impl Deref for TestApp {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl DerefMut for TestApp {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.server
    }
}

impl TestApp {
    /// A server on a fresh, empty database (the server migrates it at startup).
    pub async fn spawn() -> Self {
        Self::spawn_on(TestDb::create().await, &[]).await
    }

    pub async fn spawn_on(db: TestDb, overrides: &[(&str, &str)]) -> Self {
        let app = Self::build(&db, overrides)
            .await
            .expect("the server starts");
        Self::run(app, Arc::new(db)).await
    }

    /// A second server on the same database, as another instance behind a load balancer.
    pub async fn another_instance(&self) -> TestApp {
        let app = Self::build(&self.db, &[])
            .await
            .expect("the second instance starts");
        Self::run(app, self.db.clone()).await
    }

    pub async fn build(
        db: &TestDb,
        overrides: &[(&str, &str)],
    ) -> Result<Application, StartupError> {
        Application::build(settings(&db.url, overrides)).await
    }

    pub async fn run(app: Application, db: Arc<TestDb>) -> Self {
        Self {
            server: Server::run(app),
            pool: db.pool().await,
            db,
        }
    }

    /// Runs `statements` on the database directly, as an operator or another program would.
    pub async fn sql(&self, statements: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statements.to_owned()))
            .execute(&self.pool)
            .await
            .unwrap();
    }

    pub async fn task_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM task")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}
