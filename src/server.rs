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
//! - a failing `accept` is logged and retried with a growing pause.

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use poem::{
    Addr, Endpoint, Request,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    task::JoinSet,
    time::Instant,
};

use crate::config::ConnectionSettings;

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
        let endpoint = endpoint.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            serve_connection(socket, local, peer, endpoint, limits, stop).await;
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
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = Watched {
        inner: socket,
        activity: activity.clone(),
    };
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let endpoint = endpoint.clone();
        async move {
            let req = Request::from((
                req,
                LocalAddr(Addr::SocketAddr(local)),
                RemoteAddr(Addr::SocketAddr(peer)),
                poem::http::uri::Scheme::HTTP,
            ));
            let response: hyper::Response<BoxBody<Bytes, io::Error>> =
                endpoint.get_response(req).await.into();
            Ok::<_, Infallible>(response)
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
    builder.http2().timer(TokioTimer::new());
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
        }
    }
}

/// When a connection last sent something.
struct Activity {
    /// Milliseconds after `started` of the last read that returned data.
    last_read_ms: AtomicU64,
    any: AtomicBool,
    started: Instant,
}

impl Activity {
    fn new() -> Self {
        Self {
            last_read_ms: AtomicU64::new(0),
            any: AtomicBool::new(false),
            started: Instant::now(),
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

/// A socket that records when it last received bytes.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.note_read();
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
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
