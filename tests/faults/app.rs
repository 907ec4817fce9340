//! A server under test and a small HTTP client for it.

use std::{collections::HashMap, net::SocketAddr};

use serde_json::{Value, json};
use todo_api::{
    config::Settings,
    startup::{Application, StartupError},
};
use tokio::{sync::oneshot, task::JoinHandle};

pub const JWT_SECRET: &str = "fault-secret-fault-secret-fault-secret-00";

pub fn settings(vars: &[(&str, &str)]) -> Settings {
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

pub struct Server {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn build(vars: &[(&str, &str)]) -> Result<Application, StartupError> {
        Application::build(settings(vars)).await
    }

    pub async fn start(vars: &[(&str, &str)]) -> Self {
        Self::run(Self::build(vars).await.expect("the server starts"))
    }

    pub fn run(app: Application) -> Self {
        let addr = app.addr();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Registers and logs in `name`; returns (user id, token).
    pub async fn user(&self, name: &str) -> (i64, String) {
        let email = format!("{name}@example.com");
        let password = format!("password-of-{name}");
        let r = self
            .client
            .post(self.url("/api/auth/register"))
            .json(&json!({"username": name, "email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let login: Value = self
            .client
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            login["user"]["id"].as_i64().unwrap(),
            login["access_token"].as_str().unwrap().to_owned(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
