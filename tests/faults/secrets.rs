//! Secrets never reach a log, even at RUST_LOG=trace.

use std::{
    io::Read,
    process::{Command, Stdio},
};

use crate::{
    cluster::{Cluster, free_port},
    support::{Api, until_live},
};

const DB_PASSWORD: &str = "Db-pw-9f8e7d6c";
const JWT_SECRET: &str = "jwt-secret-that-must-never-be-logged-0001";
const USER_PASSWORD: &str = "user-pw-correct-horse-42";
const WRONG_PASSWORD: &str = "user-pw-wrong-battery-17";

/// Runs the real server at trace level through a full session; returns what it logged and
/// the access token it issued.
async fn session_logs(cluster: &Cluster, log_format: &str) -> (String, String) {
    let port = free_port();
    let url = format!(
        "postgres://app:{DB_PASSWORD}@127.0.0.1:{}/todo",
        cluster.port
    );
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .env_clear()
        .envs([
            ("DATABASE_URL", url.as_str()),
            ("JWT_SECRET", JWT_SECRET),
            ("PORT", &port.to_string()),
            ("RUST_LOG", "trace"),
            ("LOG_FORMAT", log_format),
        ])
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while the server runs: at trace level it writes more than a pipe
    // holds (the migrations' SQL alone), and a full pipe would block the server mid-request.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let api = Api::new(&format!("http://127.0.0.1:{port}"));
    until_live(&api.base).await;
    let name = format!("secret_{log_format}");
    let email = format!("{name}@example.com");
    let user = api.sign_up_with(&name, USER_PASSWORD).await;
    api.login(&email, WRONG_PASSWORD).expect(401).await;
    let token = user.token.clone();
    user.add_task("t").await;
    user.list_tasks().expect(200).await;
    user.me().expect(200).await;
    user.logout().expect(204).await;
    user.list_tasks().expect(401).await;
    user.with_token(&format!("{token}x"))
        .list_tasks()
        .expect(401)
        .await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let logs = tokio::task::spawn_blocking(move || {
        child.wait().unwrap();
        let mut logs = stderr.join().unwrap();
        logs.push_str(&stdout.join().unwrap());
        logs
    })
    .await
    .unwrap();
    (logs, token)
}

#[tokio::test]
async fn no_log_line_at_trace_level_contains_a_password_token_or_secret() {
    let cluster = Cluster::start_with_auth("scram-sha-256", &[]);
    cluster.psql(
        "postgres",
        &format!("CREATE ROLE app LOGIN PASSWORD '{DB_PASSWORD}'"),
    );
    cluster.psql("postgres", "CREATE DATABASE todo OWNER app");
    for format in ["text", "json"] {
        let (logs, token) = session_logs(&cluster, format).await;
        // The run really logged at trace level, so the check below means something.
        assert!(
            logs.lines().count() > 50,
            "{format}: only {} lines",
            logs.lines().count()
        );
        assert!(
            logs.to_ascii_uppercase().contains("TRACE"),
            "{format}: no trace lines"
        );
        let signature = token.rsplit('.').next().unwrap();
        for (what, secret) in [
            ("database password", DB_PASSWORD),
            ("JWT secret", JWT_SECRET),
            ("user password", USER_PASSWORD),
            ("wrong password", WRONG_PASSWORD),
            ("access token", token.as_str()),
            ("token signature", signature),
        ] {
            let leaks: Vec<&str> = logs
                .lines()
                .filter(|l| l.contains(secret))
                .take(3)
                .collect();
            assert!(
                leaks.is_empty(),
                "{format}: the {what} is in the log:\n{}",
                leaks.join("\n")
            );
        }
    }
}
