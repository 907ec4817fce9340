//! The HTTP server loop: accepts connections, bounds what each may hold, and serves them
//! with hyper, handing every request to the poem endpoint.
//!
//! poem's own `Server` has no header-read timeout, no connection cap, and retries a failing
//! `accept` at once (with file descriptors exhausted it spins a core and says nothing), so
//! the loop is ours:
//! - at most `max_connections` are served at once; the rest wait in the listen backlog;
//! - a connection must send its first bytes, and each request head, within
//!   `header_read_timeout` (hyper's HTTP/1 timer also starts when a keep-alive connection
//!   goes idle after a response, so it bounds idle keep-alive connections too);
//! - a connection that sends nothing for `idle_timeout` is shut down gracefully (HTTP/2
//!   included; a request in flight still gets its response);
//! - a connection that takes no bytes of a response for `send_timeout` is reset, whether
//!   its socket is full (a write pending that long; the socket's unsent bytes are bounded so
//!   that it fills soon) or, over HTTP/2, its flow-control window is (a response body not
//!   asked for its next piece that long): a client that does not read cannot make the
//!   server, or its kernel, hold its answers;
//! - an HTTP/2 connection has at most `http2_max_streams` requests open, and at most
//!   `max_in_flight` requests are served at once across all connections and streams, each
//!   (but an event stream, which has caps of its own) counted until the last piece of its
//!   response has been handed to hyper (bodies are
//!   handed over in pieces of [`SEND_CHUNK`], so that this is when the socket took most of
//!   it); a request beyond that waits up to [`IN_FLIGHT_WAIT`], then is answered 503 busy
//!   (liveness, [`LIVENESS_PATH`], is not counted);
//! - a failing `accept` is logged and retried with a growing pause.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use poem::{
    Addr, Endpoint, IntoResponse, Request,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
    time::Instant,
};
use tokio_io_timeout::TimeoutWriter;

use crate::{config::ConnectionSettings, error::ApiError};

/// The largest piece of a response body handed to hyper at once. hyper asks for the next
/// piece only when the socket (HTTP/1) or the stream's flow-control window (HTTP/2) has
/// room, so a body that is not asked for a while is one the client is not taking.
const SEND_CHUNK: usize = 16 * 1024;

/// The most a connection's socket holds that it has not sent yet (`TCP_NOTSENT_LOWAT`).
#[cfg(any(target_os = "linux", target_os = "android"))]
const UNSENT_BYTES: u32 = 128 * 1024;

/// How long a request waits for a place among the `max_in_flight` before it is refused.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(1);

/// The one path not counted among the requests in flight.
const LIVENESS_PATH: &str = "/health/live";

/// The pause after a failed `accept` starts here and doubles up to [`MAX_ACCEPT_PAUSE`].
const FIRST_ACCEPT_PAUSE: Duration = Duration::from_millis(10);
const MAX_ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// Serves `endpoint` on `listener` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish for up to `grace`, and closes what is left.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    limits: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()>
where
    E: Endpoint + 'static,
{
    let endpoint = Arc::new(endpoint);
    let local = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut pause = FIRST_ACCEPT_PAUSE;
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(ok) => {
                pause = FIRST_ACCEPT_PAUSE;
                ok
            }
            Err(e) => {
                // EMFILE/ENFILE/ENOBUFS… retrying at once would spin: wait, longer each time.
                if pause == FIRST_ACCEPT_PAUSE || pause == MAX_ACCEPT_PAUSE {
                    tracing::error!(
                        error = %e,
                        retry_in_ms = pause.as_millis(),
                        "cannot accept connections (out of file descriptors? raise `ulimit -n` \
                         or lower HTTP_MAX_CONNECTIONS)"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(MAX_ACCEPT_PAUSE);
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        // Linux lets a socket's send buffer grow to megabytes: a whole answer can vanish into
        // it, leaving no write pending for the send timeout to see, and once the socket is
        // closed the kernel goes on holding (and offering) it for minutes. With the unsent
        // bytes bounded, writes wait as soon as the client stops taking them.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = socket2::SockRef::from(&socket).set_tcp_notsent_lowat(UNSENT_BYTES);
        let endpoint = endpoint.clone();
        let stop = stop_rx.clone();
        let in_flight = in_flight.clone();
        connections.spawn(async move {
            serve_connection(socket, local, peer, endpoint, limits, in_flight, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "closing connections still busy after the grace period"
        );
        connections.shutdown().await;
    }
    Ok(())
}

async fn serve_connection<E: Endpoint + 'static>(
    socket: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    endpoint: Arc<E>,
    limits: ConnectionSettings,
    in_flight: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    // A write the socket leaves pending for `send_timeout` fails, which ends the connection.
    let mut socket = TimeoutWriter::new(socket);
    socket.set_timeout(Some(limits.send_timeout));
    let io = Watched {
        inner: Box::pin(socket),
        activity: activity.clone(),
    };
    let sending = Arc::new(Sending::default());
    let bodies = sending.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let endpoint = endpoint.clone();
        let in_flight = in_flight.clone();
        let sending = bodies.clone();
        async move {
            // Liveness says whether the process answers at all: a busy server is alive, and
            // restarting it for being busy would only make things worse.
            let counted = req.uri().path() != LIVENESS_PATH;
            let permit = if counted {
                match tokio::time::timeout(IN_FLIGHT_WAIT, in_flight.acquire_owned()).await {
                    Ok(Ok(permit)) => Some(permit),
                    // Closed never happens; refusing is the safe answer if it did.
                    Ok(Err(_)) | Err(_) => None,
                }
            } else {
                None
            };
            let response: poem::Response = if counted && permit.is_none() {
                ApiError::Busy("The server is answering as many requests as it can: retry shortly.")
                    .into_response()
            } else {
                let req = Request::from((
                    req,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(peer)),
                    poem::http::uri::Scheme::HTTP,
                ));
                endpoint.get_response(req).await
            };
            // An event stream stays open while idle: it leaves its place among those in flight
            // once its head is ready (the streams have their own caps).
            let streaming = response
                .headers()
                .get(poem::http::header::CONTENT_TYPE)
                .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
            let permit = if streaming { None } else { permit };
            let response: hyper::Response<BoxBody<Bytes, io::Error>> = response.into();
            Ok::<_, Infallible>(response.map(|body| Metered::new(body, sending, permit)))
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // Above the limits the routes answer with a problem (see `api::middleware`), so that
        // hyper's own refusals, which have empty bodies, are only for extreme requests.
        .max_headers(200)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);

    let mut shutting_down = false;
    loop {
        let quiet = activity.quiet_for();
        let wait = if activity.heard_from() {
            limits.idle_timeout.saturating_sub(quiet)
        } else {
            limits.header_read_timeout.saturating_sub(quiet)
        };
        let stalled_at = sending
            .longest_wait()
            .map(|since| since + limits.send_timeout);
        tokio::select! {
            ended = conn.as_mut() => {
                // Header timeouts, malformed requests and resets end here; hyper has already
                // answered what it could.
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !shutting_down => {
                if changed.is_err() || *stop.borrow() {
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep(wait), if !shutting_down => {
                let quiet = activity.quiet_for();
                if !activity.heard_from() && quiet >= limits.header_read_timeout {
                    tracing::debug!(%peer, "closing a connection that sent nothing");
                    return;
                }
                if quiet >= limits.idle_timeout {
                    tracing::debug!(%peer, "closing an idle connection");
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            // A response piece has waited so long: the client is not reading. Closing is the
            // only way to free what hyper holds for it (a graceful shutdown would wait for it).
            () = sleep_until(stalled_at), if stalled_at.is_some() => {
                if sending.longest_wait().is_some_and(|since| since.elapsed() >= limits.send_timeout) {
                    tracing::debug!(%peer, "closing a connection that takes no response bytes");
                    activity.stalled.store(true, Ordering::Relaxed);
                    return;
                }
            }
            // A body began to wait: the deadline above may be new.
            () = sending.began.notified() => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The response bodies of one connection that are waiting for hyper to ask for their next
/// piece, and since when.
#[derive(Default)]
struct Sending {
    waiting: Mutex<HashMap<u64, Instant>>,
    next_id: AtomicU64,
    /// Woken when a body begins to wait while none was.
    began: Notify,
}

impl Sending {
    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn wait(&self, id: u64) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let first = waiting.is_empty();
        waiting.insert(id, Instant::now());
        drop(waiting);
        if first {
            self.began.notify_one();
        }
    }

    fn stop(&self, id: u64) {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// When the body that has waited longest began to wait.
    fn longest_wait(&self) -> Option<Instant> {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .min()
            .copied()
    }
}

/// A response body handed to hyper in pieces of at most [`SEND_CHUNK`], which records in
/// its connection's [`Sending`] when it waits to be asked for more, and holds the request's
/// place among those in flight until it is done.
struct Metered {
    inner: BoxBody<Bytes, io::Error>,
    /// What is left of the data frame being handed over.
    rest: Bytes,
    id: u64,
    sending: Arc<Sending>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Metered {
    fn new(
        inner: BoxBody<Bytes, io::Error>,
        sending: Arc<Sending>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        let id = sending.id();
        // From now on the response waits for the client (hyper sends the head first).
        sending.wait(id);
        Self {
            inner,
            rest: Bytes::new(),
            id,
            sending,
            _permit: permit,
        }
    }

    fn piece(&mut self, mut data: Bytes) -> Frame<Bytes> {
        if data.len() > SEND_CHUNK {
            self.rest = data.split_off(SEND_CHUNK);
        }
        // Until hyper asks again, the next piece (or the end) waits for the client.
        self.sending.wait(self.id);
        Frame::data(data)
    }
}

impl Body for Metered {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if !this.rest.is_empty() {
            let rest = std::mem::take(&mut this.rest);
            return Poll::Ready(Some(Ok(this.piece(rest))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(Ok(this.piece(data)))),
                Err(frame) => {
                    this.sending.wait(this.id);
                    Poll::Ready(Some(Ok(frame)))
                }
            },
            polled => {
                // Producing the body, done, or failed: not waiting for the client.
                this.sending.stop(this.id);
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(rest));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.sending.stop(self.id);
    }
}

/// When a connection last sent something, and whether it stopped taking what it is sent.
struct Activity {
    /// Milliseconds after `started` of the last read that returned data.
    last_read_ms: AtomicU64,
    any: AtomicBool,
    started: Instant,
    /// The client took no response bytes for `send_timeout`: the socket is reset when
    /// dropped, rather than left to the kernel with what the client would not take.
    stalled: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            last_read_ms: AtomicU64::new(0),
            any: AtomicBool::new(false),
            started: Instant::now(),
            stalled: AtomicBool::new(false),
        }
    }

    fn heard_from(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    fn note_read(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_read_ms.store(ms, Ordering::Relaxed);
        self.any.store(true, Ordering::Relaxed);
    }

    /// How long since the last read (or since the connection was accepted).
    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_read_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// A socket that records when it last received bytes, and whose writes fail once one has
/// been pending for the send timeout.
struct Watched {
    inner: Pin<Box<TimeoutWriter<TcpStream>>>,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = self.inner.as_mut().poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.note_read();
        }
        polled
    }
}

impl Watched {
    fn note<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &polled
            && e.kind() == io::ErrorKind::TimedOut
        {
            tracing::debug!("closing a connection whose socket took nothing");
            self.activity.stalled.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = self.inner.as_mut().poll_write(cx, buf);
        self.note(polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = self.inner.as_mut().poll_flush(cx);
        self.note(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = self.inner.as_mut().poll_shutdown(cx);
        self.note(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = self.inner.as_mut().poll_write_vectored(cx, bufs);
        self.note(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // Closing normally would leave what the client did not take in the kernel, which
        // keeps sending it (and the socket) for minutes; a reset frees both at once.
        if self.activity.stalled.load(Ordering::Relaxed) {
            let _ = self.inner.get_ref().set_zero_linger();
        }
    }
}
