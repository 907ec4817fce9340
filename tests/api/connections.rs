//! What a client may hold of the server's connections: slow, silent and idle sockets are
//! closed, and connections beyond the cap wait while the server keeps serving.

use std::{
    io::BufRead,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestApp, TestDb, until_live, wait_until};

/// Long enough for the server to act on a one-second limit on a loaded machine; the tests
/// assert what happens, not how fast.
const PATIENCE: Duration = Duration::from_secs(20);

async fn app_with(overrides: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_on(TestDb::create().await, overrides).await
}

/// Reads until the server closes the connection; returns everything read.
async fn read_until_closed(socket: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, socket.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open; read so far: {:?}",
                String::from_utf8_lossy(&all)
            ),
            Ok(Ok(0) | Err(_)) => return all,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_the_header_read_timeout() {
    let app = app_with(&[("HTTP_HEADER_READ_TIMEOUT", "1s")]).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    assert!(read_until_closed(&mut silent).await.is_empty());
}

#[tokio::test]
async fn a_slowloris_is_closed_after_the_header_read_timeout() {
    let app = app_with(&[("HTTP_HEADER_READ_TIMEOUT", "1s")]).await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let dribble = async {
        // One header byte at a time, never finishing the head.
        for _ in 0..200 {
            if slow.write_all(b"X").await.is_err() {
                return;
            }
            // This wait is the attack, not a guess at the server's speed: a byte every 200 ms,
            // each well within the 1 s limit of the one before, must not keep the socket open.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the server still accepted header bytes after 40 s");
    };
    dribble.await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = app_with(&[("HTTP_HEADER_READ_TIMEOUT", "1s")]).await;
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = String::from_utf8(read_until_closed(&mut idle).await).unwrap();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(answered.contains(r#"{"status":"ok"}"#), "{answered}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_and_the_server_keeps_serving() {
    let app = app_with(&[
        ("HTTP_MAX_CONNECTIONS", "2"),
        ("HTTP_HEADER_READ_TIMEOUT", "60s"),
    ])
    .await;
    let holders = [
        TcpStream::connect(app.addr).await.unwrap(),
        TcpStream::connect(app.addr).await.unwrap(),
    ];
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let waiting = client.get(app.url("/health/live")).send().await;
    assert!(
        waiting.as_ref().is_err_and(reqwest::Error::is_timeout),
        "a third connection was served beyond the cap: {waiting:?}"
    );
    drop(holders);
    let served = reqwest::Client::new()
        .get(app.url("/health/live"))
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn out_of_file_descriptors_the_server_says_so_backs_off_and_recovers() {
    let db = TestDb::create().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    // A process allowed few file descriptors, so that connections exhaust them.
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            r#"ulimit -n 64 && exec "$0""#,
            env!("CARGO_BIN_EXE_todo-api"),
        ])
        .env_clear()
        .envs([
            ("PATH", std::env::var("PATH").unwrap_or_default().as_str()),
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", crate::helpers::JWT_SECRET),
            ("PORT", port.as_str()),
            ("DB_MAX_CONNECTIONS", "2"),
        ])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = Tail::of(child.stderr.take().unwrap());
    let live = format!("http://127.0.0.1:{port}/health/live");
    until_live(&format!("http://127.0.0.1:{port}")).await;

    let mut hogs = Vec::new();
    for _ in 0..100 {
        hogs.push(
            TcpStream::connect(format!("127.0.0.1:{port}"))
                .await
                .unwrap(),
        );
    }
    wait_until(
        "the server to say it cannot accept connections",
        PATIENCE,
        async || log.text().contains("cannot accept connections"),
    )
    .await;
    drop(hogs);
    let served = reqwest::Client::new()
        .get(&live)
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let err = log.finish();
    assert!(err.contains("Too many open files"), "{err}");
}

/// What a child process writes to a pipe, read by a thread of its own while it runs.
struct Tail {
    text: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Tail {
    fn of(pipe: impl std::io::Read + Send + 'static) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let written = text.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                let mut text = written.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Self { text, reader }
    }

    /// Everything written so far.
    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Everything written, once the pipe has closed.
    fn finish(self) -> String {
        self.reader.join().unwrap();
        self.text.lock().unwrap().clone()
    }
}
