//! Fresh databases and running servers for tests.

use std::{collections::HashMap, net::SocketAddr, path::Path, process::Output, sync::Arc};

use sqlx::{Connection, Executor, PgConnection, PgPool};
use todo_api::{
    config::Settings,
    startup::{Application, StartupError},
};
use tokio::{sync::oneshot, task::JoinHandle};

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

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
            .expect("the test PostgreSQL server must be reachable (see README: Testing)");
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

/// Settings for a test server on a free port, with `overrides` applied last.
pub fn settings(database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url),
        ("JWT_SECRET", JWT_SECRET),
        ("PORT", "0"),
        ("DB_CONNECT_TIMEOUT", "5s"),
        // Parallel servers must not collide on the metrics port; tests/api/metrics.rs
        // turns it on for itself.
        ("METRICS_ADDR", "off"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_env(&move |name: &str| vars.get(name).cloned()).unwrap()
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: Arc<TestDb>,
    /// A pool of the test's own, for looking at the database directly.
    pub pool: PgPool,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// A server on a fresh, empty database (the server migrates it at startup).
    pub async fn spawn() -> Self {
        Self::spawn_on(TestDb::create().await, &[]).await
    }

    pub async fn spawn_on(db: TestDb, overrides: &[(&str, &str)]) -> Self {
        let app = Application::build(settings(&db.url, overrides))
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
        let addr = app.addr();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            client: reqwest::Client::new(),
            pool: db.pool().await,
            db,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub fn take_server(&mut self) -> JoinHandle<std::io::Result<()>> {
        self.server.take().unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.begin_stop();
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(body["type"].as_str().is_some(), "{body}");
    assert!(body["title"].as_str().is_some(), "{body}");
    body
}

/// Runs the real binary with exactly `env` (nothing inherited but PATH), in `dir`.
pub fn run_binary(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_todo-api"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The contract schema that production databases were created with.
pub const CONTRACT_SQL: &str = include_str!("../fixtures/contract-schema.sql");
