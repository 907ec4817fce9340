//! A gate in front of the test database: it passes connections through until told to
//! refuse, then answers every new connection the way a refusing PostgreSQL does (`N` to an
//! SSLRequest, then an `ErrorResponse` with the chosen SQLSTATE to the startup message) and
//! cuts the connections it had passed through.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

#[derive(Default)]
struct Shared {
    refusal: Option<(String, String)>,
    passed: Vec<JoinHandle<()>>,
}

/// Bytes the server under test has sent towards the database.
pub type Sent = Arc<std::sync::atomic::AtomicU64>;

pub struct FakeGate {
    pub addr: SocketAddr,
    pub sent: Sent,
    /// Statements on tasks the server under test has run: executions of a prepared statement
    /// whose SQL names the `task` table, and simple queries that do. Preparing a statement,
    /// pinging a connection (sqlx does both: the ping whenever a connection goes back to its
    /// pool) and statements on other tables (a session read, a `pg_notify`) are not counted.
    pub statements: Sent,
    shared: Arc<Mutex<Shared>>,
    accept: JoinHandle<()>,
}

impl FakeGate {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        let sent = Sent::default();
        let counter = sent.clone();
        let statements = Sent::default();
        let statement_counter = statements.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let refusal = state.lock().unwrap().refusal.clone();
                match refusal {
                    Some((code, message)) => {
                        tokio::spawn(refuse(client, code, message));
                    }
                    None => {
                        let task = tokio::spawn(pass(
                            client,
                            upstream,
                            counter.clone(),
                            statement_counter.clone(),
                        ));
                        state.lock().unwrap().passed.push(task);
                    }
                }
            }
        });
        Self {
            addr,
            sent,
            statements,
            shared,
            accept,
        }
    }

    /// From now on, refuse with `code`; connections open now are cut.
    pub fn refuse(&self, code: &str, message: &str) {
        let mut shared = self.shared.lock().unwrap();
        shared.refusal = Some((code.to_owned(), message.to_owned()));
        for task in shared.passed.drain(..) {
            task.abort();
        }
    }

    /// From now on, pass connections through again.
    pub fn open(&self) {
        self.shared.lock().unwrap().refusal = None;
    }

    /// `url` with its host and port replaced by the gate's.
    pub fn url(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.to_string()
    }
}

impl Drop for FakeGate {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.shared.lock().unwrap().passed.drain(..) {
            task.abort();
        }
    }
}

async fn pass(client: TcpStream, upstream: SocketAddr, sent: Sent, statements: Sent) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let up = async {
        let mut buf = vec![0; 16 * 1024];
        let mut messages = Messages::default();
        let mut prepared = Prepared::default();
        while let Ok(n) = from_client.read(&mut buf).await {
            if n == 0 {
                break;
            }
            // Counted before they are passed on, so a count read after the answer has them.
            let ran = messages
                .read(&buf[..n])
                .filter(|message| prepared.on_tasks(message))
                .count();
            statements.fetch_add(ran as u64, std::sync::atomic::Ordering::Relaxed);
            sent.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            if to_server.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::join!(up, down);
}

/// The frontend's messages in a byte stream: untyped ones until the startup message (after
/// any SSL or GSS requests), then typed ones.
#[derive(Default)]
struct Messages {
    pending: Vec<u8>,
    started: bool,
}

impl Messages {
    /// The messages `bytes` completes: type (0 for an untyped one) and body.
    fn read(&mut self, bytes: &[u8]) -> std::vec::IntoIter<(u8, Vec<u8>)> {
        self.pending.extend_from_slice(bytes);
        let mut kinds = Vec::new();
        loop {
            let (kind, at) = if self.started {
                (self.pending.first().copied(), 1)
            } else {
                (Some(0), 0)
            };
            let (Some(kind), Some(len)) = (
                kind,
                self.pending
                    .get(at..at + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize),
            ) else {
                break;
            };
            if self.pending.len() < at + len {
                break;
            }
            if !self.started {
                let code = self
                    .pending
                    .get(4..8)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                self.started = !matches!(code, Some(SSL_REQUEST | GSSENC_REQUEST));
            }
            let body = self.pending.drain(..at + len).skip(at + 4).collect();
            kinds.push((kind, body));
        }
        kinds.into_iter()
    }
}

/// The SQL of one connection's prepared statements, by name, and of the one bound last.
#[derive(Default)]
struct Prepared {
    by_name: std::collections::HashMap<Vec<u8>, String>,
    bound: String,
}

impl Prepared {
    /// Follows `Parse` and `Bind`; whether the message runs a statement on tasks (an
    /// `Execute` of the statement bound, or a simple `Query`).
    fn on_tasks(&mut self, (kind, body): &(u8, Vec<u8>)) -> bool {
        let mut fields = body.split(|&b| b == 0);
        let names_tasks = |sql: &str| sql.contains(" task ") || sql.contains(" task\n");
        match kind {
            b'P' => {
                let (Some(name), Some(sql)) = (fields.next(), fields.next()) else {
                    return false;
                };
                self.by_name
                    .insert(name.to_vec(), String::from_utf8_lossy(sql).into_owned());
                false
            }
            b'B' => {
                let _portal = fields.next();
                let name = fields.next().unwrap_or_default();
                self.bound = self.by_name.get(name).cloned().unwrap_or_default();
                false
            }
            b'E' => names_tasks(&self.bound),
            b'Q' => names_tasks(&String::from_utf8_lossy(body)),
            _ => false,
        }
    }
}

/// Reads length-prefixed startup packets until the startup message itself, then refuses.
async fn refuse(mut client: TcpStream, code: String, message: String) {
    loop {
        let Ok(len) = client.read_u32().await else {
            return;
        };
        let mut body = vec![0; (len as usize).saturating_sub(4)];
        if client.read_exact(&mut body).await.is_err() {
            return;
        }
        let kind = body
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if matches!(kind, Some(SSL_REQUEST | GSSENC_REQUEST)) {
            if client.write_all(b"N").await.is_err() {
                return;
            }
            continue;
        }
        let _ = client.write_all(&error_response(&code, &message)).await;
        let _ = client.shutdown().await;
        return;
    }
}

/// A FATAL `ErrorResponse` message.
pub fn error_response(code: &str, message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (tag, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message),
    ] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&(u32::try_from(fields.len() + 4).unwrap()).to_be_bytes());
    out.extend_from_slice(&fields);
    out
}
