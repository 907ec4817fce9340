//! Clients that ask for a large answer and do not take it: over HTTP/1.1 their socket fills,
//! over HTTP/2 their flow-control window stays shut. Either way the server closes the
//! connection after `HTTP_SEND_TIMEOUT`, serves others meanwhile, runs at most
//! `HTTP2_MAX_STREAMS` requests of one HTTP/2 connection at once, and refuses requests
//! beyond `HTTP_MAX_IN_FLIGHT` with a problem rather than holding more answers.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{body::Incoming, client::conn::http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{io::AsyncWriteExt, net::TcpStream, task::JoinHandle};

use crate::helpers::{TestApp, TestDb, User, holds_for, wait_until};

/// Long enough for the server to act on a one-second limit on a loaded machine; the tests
/// assert what happens, not how fast.
const PATIENCE: Duration = Duration::from_secs(20);

async fn app_with(overrides: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_on(TestDb::create().await, overrides).await
}

/// Gives `user` 200 tasks whose descriptions are 5 000 control characters: JSON escapes each
/// to six bytes, so a list of them is several megabytes.
async fn give_heavy_tasks(app: &TestApp, user: &User) {
    sqlx::query(
        "INSERT INTO task (user_id, title, description)
         SELECT $1, 'heavy ' || n, repeat(chr(1), 5000) FROM generate_series(1, 200) n",
    )
    .bind(i32::try_from(user.id).unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
}

/// An HTTP/2 (prior knowledge) connection whose windows are the protocol's smallest and are
/// never reopened: the client takes no bytes of an answer it does not read.
async fn h2_connect(addr: SocketAddr) -> (http2::SendRequest<Empty<Bytes>>, JoinHandle<()>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, driver)
}

fn h2_get(addr: SocketAddr, path: &str, token: &str) -> hyper::Request<Empty<Bytes>> {
    hyper::Request::get(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn a_socket_that_takes_nothing_is_reset_after_the_send_timeout_and_others_are_served() {
    let app = app_with(&[("HTTP_SEND_TIMEOUT", "1s")]).await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    give_heavy_tasks(&app, &alice).await;
    bob.add_task("light").await;

    // About a megabyte: it would fit in the sockets' buffers if the server let it.
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET {}?limit=40 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        alice.tasks_path(),
        alice.token
    );
    stalled.write_all(request.as_bytes()).await.unwrap();

    let listed = bob.list_tasks().expect(200).await;
    assert_eq!(listed.tasks().len(), 1);

    // Never read: the reset shows in the socket's error, not in data.
    wait_until(
        "the server resets the connection that takes nothing",
        PATIENCE,
        async || stalled.take_error().unwrap().is_some(),
    )
    .await;
    bob.list_tasks().expect(200).await;
}

#[tokio::test]
async fn an_http2_client_that_keeps_its_window_shut_is_disconnected_after_the_send_timeout() {
    let app = app_with(&[("HTTP_SEND_TIMEOUT", "1s")]).await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    give_heavy_tasks(&app, &alice).await;

    // The client reads its socket (and would answer pings) but never reads the body.
    let (mut send, driver) = h2_connect(app.addr).await;
    let head = send
        .send_request(h2_get(app.addr, &alice.tasks_path(), &alice.token))
        .await
        .unwrap();
    assert_eq!(head.status(), 200);

    bob.list_tasks().expect(200).await;
    wait_until(
        "the server closes the HTTP/2 connection whose window stays shut",
        PATIENCE,
        async || driver.is_finished(),
    )
    .await;
    drop(head);
}

#[tokio::test]
async fn http2_streams_beyond_the_bound_wait_for_one_to_end() {
    let app = app_with(&[("HTTP2_MAX_STREAMS", "3"), ("HTTP_SEND_TIMEOUT", "60s")]).await;
    let alice = app.sign_up("alice").await;
    give_heavy_tasks(&app, &alice).await;

    let (mut send, _driver) = h2_connect(app.addr).await;
    // One whole exchange first, so that the client has the server's settings.
    let live = send
        .send_request(h2_get(app.addr, "/health/live", ""))
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    live.into_body().collect().await.unwrap();

    let answered = Arc::new(AtomicUsize::new(0));
    let held: Arc<Mutex<Vec<hyper::Response<Incoming>>>> = Arc::default();
    let mut requests = Vec::new();
    for _ in 0..8 {
        let mut send = send.clone();
        let request = h2_get(app.addr, &alice.tasks_path(), &alice.token);
        let (answered, held) = (answered.clone(), held.clone());
        requests.push(tokio::spawn(async move {
            let response = send.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            answered.fetch_add(1, Ordering::SeqCst);
            // Unread, the answer keeps its stream open.
            held.lock().unwrap().push(response);
        }));
    }
    wait_until("three streams answered", PATIENCE, async || {
        answered.load(Ordering::SeqCst) == 3
    })
    .await;
    holds_for(
        "no more than three streams served at once",
        Duration::from_secs(1),
        async || answered.load(Ordering::SeqCst) == 3,
    )
    .await;

    // Each answer dropped ends its stream; the waiting requests then have their turn.
    wait_until("every waiting stream answered", PATIENCE, async || {
        held.lock().unwrap().clear();
        answered.load(Ordering::SeqCst) == 8
    })
    .await;
    for request in requests {
        request.await.unwrap();
    }
}

#[tokio::test]
async fn requests_beyond_the_in_flight_bound_are_refused_with_a_problem() {
    let app = app_with(&[("HTTP_MAX_IN_FLIGHT", "2"), ("HTTP_SEND_TIMEOUT", "60s")]).await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    give_heavy_tasks(&app, &alice).await;

    // Two answers the client does not take hold both places.
    let (mut send, driver) = h2_connect(app.addr).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let response = send
            .send_request(h2_get(app.addr, &alice.tasks_path(), &alice.token))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        held.push(response);
    }

    let refused = bob.list_tasks().send().await;
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    let problem = refused.assert_problem(503);
    assert!(problem.kind.ends_with("busy"), "{problem:?}");
    // Liveness is not counted: a busy server is alive.
    app.get("/health/live").expect(200).await;

    // Once that client goes, its places are free again.
    drop((held, send));
    driver.abort();
    wait_until("the list is served again", PATIENCE, async || {
        bob.list_tasks().send().await.status() == 200
    })
    .await;
}

#[tokio::test]
async fn pages_held_by_clients_that_do_not_read_make_other_pages_shorter_not_refused() {
    const MIB: usize = 1024 * 1024;
    let app = app_with(&[
        ("LIST_PAGE_BYTES", "1048576"),
        ("LIST_PAGES_MEMORY", "1048576"),
        ("HTTP_SEND_TIMEOUT", "60s"),
    ])
    .await;
    let alice = app.sign_up("alice").await;
    give_heavy_tasks(&app, &alice).await;

    let full = alice.list_tasks().expect(200).await;
    assert!(full.text().len() > MIB / 2, "{} bytes", full.text().len());
    let full_ids: Vec<i64> = full.tasks().iter().map(|t| t.id).collect();
    drop(full);

    // A client that takes nothing keeps its page, and the memory it draws on.
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        alice.tasks_path(),
        alice.token
    );
    stalled.write_all(request.as_bytes()).await.unwrap();

    // Meanwhile every list is still served, in a page cut short by what is left, and its
    // Link leads on from the last task it holds.
    let mut short = None;
    wait_until("a list page cut short by memory", PATIENCE, async || {
        let page = alice.list_tasks().expect(200).await;
        let small = page.text().len() < 128 * 1024;
        if small {
            short = Some(page);
        }
        small
    })
    .await;
    let short = short.unwrap();
    let ids: Vec<i64> = short.tasks().iter().map(|t| t.id).collect();
    assert!(!ids.is_empty());
    assert_eq!(ids, full_ids[..ids.len()]);
    let next = short.next_query().expect("a Link to the rest");
    let rest = alice.list_tasks().query(&next).expect(200).await;
    assert_eq!(rest.tasks()[0].id, full_ids[ids.len()]);

    // Once that client is gone, its memory is free and pages are whole again.
    drop(stalled);
    wait_until("a whole page again", PATIENCE, async || {
        alice.list_tasks().expect(200).await.text().len() > MIB / 2
    })
    .await;
}
