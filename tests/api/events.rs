//! `GET …/tasks/events`: live changes as Server-Sent Events, from any instance or SQL,
//! resumable with `Last-Event-ID` without losing or repeating a change, ended when the
//! session ends, and capped per user and per instance.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, User, wait_until},
    sync::Copy,
};

/// Longest a test waits for the next piece of a stream before it fails.
const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
struct Event {
    kind: String,
    data: Value,
    id: Option<String>,
}

/// An open stream, read event by event.
struct Events {
    response: reqwest::Response,
    buf: String,
    /// Comments seen so far (heartbeats).
    comments: usize,
}

fn events_of(user: &User) -> crate::helpers::Call {
    user.call(
        reqwest::Method::GET,
        &format!("/api/{}/tasks/events", user.id),
    )
}

impl Events {
    async fn open(user: &User, last_event_id: Option<&str>) -> Self {
        let mut call = events_of(user);
        if let Some(id) = last_event_id {
            call = call.header("last-event-id", id);
        }
        let response = call.open().await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buf: String::new(),
            comments: 0,
        }
    }

    /// The next event (comments counted and skipped), or `None` when the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = Event {
                    kind: String::new(),
                    data: Value::Null,
                    id: None,
                };
                let mut comment = false;
                for line in block.lines() {
                    if let Some(rest) = line.strip_prefix(':') {
                        assert_eq!(rest, " keep-alive");
                        comment = true;
                    } else if let Some(kind) = line.strip_prefix("event: ") {
                        event.kind = kind.to_owned();
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        event.data = serde_json::from_str(data).unwrap();
                    } else if let Some(id) = line.strip_prefix("id: ") {
                        event.id = Some(id.to_owned());
                    }
                }
                if comment {
                    self.comments += 1;
                    continue;
                }
                return Some(event);
            }
            let chunk = tokio::time::timeout(DEADLINE, self.response.chunk())
                .await
                .expect("the stream sends within the deadline")
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.buf.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => return None,
            }
        }
    }

    /// Reads until `n` more heartbeats came; an event meanwhile fails the test.
    async fn heartbeats(&mut self, n: usize) {
        let target = self.comments + n;
        while self.comments < target {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                assert!(block.starts_with(": keep-alive"), "{block}");
                self.comments += 1;
                continue;
            }
            let chunk = tokio::time::timeout(DEADLINE, self.response.chunk())
                .await
                .expect("the stream sends within the deadline")
                .expect("the stream reads")
                .expect("the stream is open");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn expect(&mut self, kind: &str) -> Event {
        let event = self.next().await.expect("another event");
        assert_eq!(event.kind, kind, "{event:?}");
        event
    }

    /// The events of one batch: up to and including the first that carries an id.
    async fn batch(&mut self) -> Vec<Event> {
        let mut batch = Vec::new();
        loop {
            let event = self.next().await.expect("another event");
            let last = event.id.is_some();
            batch.push(event);
            if last {
                return batch;
            }
        }
    }
}

#[tokio::test]
async fn a_stream_starts_ready_then_sends_each_change_and_deletion() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut events = Events::open(&alice, None).await;
    let ready = events.expect("ready").await;
    assert_eq!(ready.data, json!({}));
    assert!(ready.id.is_some());

    let task = alice.add_task("new").await;
    let created = events.batch().await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].kind, "task.changed");
    assert_eq!(created[0].data["id"], task.id);
    assert_eq!(created[0].data["title"], "new");
    assert_eq!(
        created[0].data,
        alice.get_task(task.id).expect(200).await.value()
    );

    alice.delete_task(task.id).expect(204).await;
    let deleted = events.batch().await;
    assert_eq!(deleted[0].kind, "task.deleted");
    assert_eq!(deleted[0].data, json!({"id": task.id}));
}

#[tokio::test]
async fn a_change_through_another_instance_or_sql_reaches_a_stream() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let alice = a.sign_up("alice").await;
    let on_b = User::new(&b, alice.id, alice.token.clone());
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;

    let task = on_b.add_task("made on b").await;
    let batch = events.batch().await;
    assert_eq!(batch[0].data["id"], task.id);

    a.sql(&format!(
        "UPDATE task SET title = 'renamed in psql' WHERE id = {}",
        task.id
    ))
    .await;
    let batch = events.batch().await;
    assert_eq!(batch[0].data["title"], "renamed in psql");
}

#[tokio::test]
async fn resuming_with_the_last_event_id_loses_nothing_and_repeats_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut copy = Copy::default();
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    let seen = alice.add_task("seen").await;
    let batch = events.batch().await;
    let last_id = batch.last().unwrap().id.clone().unwrap();
    apply(&mut copy, &batch);
    drop(events);

    // While disconnected: a change, a new task and a deletion.
    let gone = alice.add_task("made and deleted while away").await;
    alice
        .put_task(seen.id)
        .json(&json!({"title": "changed while away"}))
        .expect(200)
        .await;
    let made = alice.add_task("made while away").await;
    alice.delete_task(gone.id).expect(204).await;

    let mut events = Events::open(&alice, Some(&last_id)).await;
    let ready = events.expect("ready").await;
    assert_eq!(ready.id.as_deref(), Some(last_id.as_str()));
    let batch = events.batch().await;
    let mut ids: Vec<i64> = batch
        .iter()
        .map(|e| e.data["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![seen.id, gone.id, made.id], "each once");
    apply(&mut copy, &batch);
    copy.assert_is_the_servers(&alice).await;
}

fn apply(copy: &mut Copy, batch: &[Event]) {
    for event in batch {
        match event.kind.as_str() {
            "task.changed" => copy.apply(&json!({"changed": [event.data], "deleted": []})),
            "task.deleted" => copy.apply(&json!({"changed": [], "deleted": [event.data["id"]]})),
            other => panic!("{other}"),
        }
    }
}

#[tokio::test]
async fn a_stream_ends_when_its_session_is_revoked_on_another_instance() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let alice = a.sign_up("alice").await;
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    User::new(&b, alice.id, alice.token.clone())
        .logout()
        .expect(204)
        .await;
    let end = events.expect("end").await;
    assert_eq!(end.data, json!({"reason": "session_revoked"}));
    assert_eq!(events.next().await, None);
    events_of(&alice).expect_problem(401).await;
}

#[tokio::test]
async fn a_stream_ends_when_its_session_expires() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    app.sql("UPDATE session SET expires_at = timezone('utc', now()) - interval '1 second'")
        .await;
    let end = events.expect("end").await;
    assert_eq!(end.data, json!({"reason": "session_expired"}));
    assert_eq!(events.next().await, None);
}

#[tokio::test]
async fn a_stream_ends_at_its_sessions_expiry_time() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    app.sql("UPDATE session SET expires_at = timezone('utc', now()) + interval '3 seconds'")
        .await;
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    let end = events.expect("end").await;
    assert_eq!(end.data, json!({"reason": "session_expired"}));
}

#[tokio::test]
async fn streams_are_capped_per_user_and_per_instance_with_retry_after() {
    let db = crate::helpers::TestDb::create().await;
    let app = TestApp::spawn_on(db, &[("SSE_MAX_PER_USER", "2"), ("SSE_MAX_STREAMS", "3")]).await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let _first = Events::open(&alice, None).await;
    let _second = Events::open(&alice, None).await;
    let refused = events_of(&alice).send().await;
    assert_eq!(refused.status(), 429);
    assert!(refused.header("retry-after").is_some());
    let _third = Events::open(&bob, None).await;
    let busy = events_of(&bob).send().await;
    assert_eq!(busy.status(), 503);
    assert!(busy.header("retry-after").is_some());
    // Ordinary requests go on.
    bob.list_tasks().expect(200).await;
}

#[tokio::test]
async fn an_old_last_event_id_is_410_and_a_malformed_one_400() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("x").await;
    let copy = Copy::read_all(&alice).await;
    let old = copy.next.unwrap();
    alice.complete_task(task.id).expect(200).await;
    app.sql("UPDATE task_change SET changed_at = changed_at - interval '31 days'")
        .await;
    todo_api::maintenance::run_once(&app.pool, todo_api::config::DEFAULT_SYNC_RETENTION)
        .await
        .unwrap();
    events_of(&alice)
        .header("last-event-id", &old)
        .expect_problem(410)
        .await;
    events_of(&alice)
        .header("last-event-id", "not-a-token")
        .expect_problem(400)
        .await;
    events_of(&alice)
        .query("since=NTo0Og")
        .expect_problem(400)
        .await;
}

#[tokio::test]
async fn open_streams_take_no_place_among_requests_in_flight_and_outlive_the_idle_timeout() {
    let db = crate::helpers::TestDb::create().await;
    let app = TestApp::spawn_on(
        db,
        &[
            ("HTTP_MAX_IN_FLIGHT", "1"),
            ("HTTP_IDLE_TIMEOUT", "1s"),
            ("SSE_HEARTBEAT", "300ms"),
        ],
    )
    .await;
    let alice = app.sign_up("alice").await;
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    alice.list_tasks().expect(200).await;
    // Heartbeats past the idle timeout: the stream is still open and still delivers.
    let task = alice.add_task("after the idle timeout").await;
    let batch = events.batch().await;
    assert_eq!(batch[0].data["id"], task.id);
    while events.comments < 5 {
        let task = alice.add_task("more").await;
        assert_eq!(events.batch().await[0].data["id"], task.id);
    }
}

async fn stream_listeners(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database()
           AND application_name = 'todo-api event streams listener'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn after_the_listener_is_lost_streams_catch_up_and_without_streams_it_goes() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    assert_eq!(stream_listeners(&app).await, 1);
    app.sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'todo-api event streams listener'
           AND datname = current_database();
         INSERT INTO task (user_id, title) VALUES ({}, 'while nobody listened')",
        alice.id
    ))
    .await;
    let batch = events.batch().await;
    assert_eq!(batch[0].data["title"], "while nobody listened");
    wait_until("a listener again", DEADLINE, async || {
        stream_listeners(&app).await == 1
    })
    .await;
    let task = alice.add_task("after").await;
    let batch = events.batch().await;
    assert_eq!(batch.last().unwrap().data["id"], task.id);

    drop(events);
    wait_until("no listener without streams", DEADLINE, async || {
        stream_listeners(&app).await == 0
    })
    .await;
}

#[tokio::test]
async fn a_server_shutting_down_ends_its_streams_so_clients_reconnect_elsewhere() {
    let mut app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    app.begin_stop();
    let end = events.expect("end").await;
    assert_eq!(end.data, json!({"reason": "resync"}));
    assert_eq!(events.next().await, None);
}

#[tokio::test]
async fn streams_of_one_user_at_one_position_share_one_read_per_change() {
    let gated = crate::refusals::gated(&[]).await;
    let alice = &gated.alice;
    // Three devices that last synced at the same point.
    let copy = Copy::read_all(alice).await;
    let token = copy.next.unwrap();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut events = Events::open(alice, Some(&token)).await;
        events.expect("ready").await;
        streams.push(events);
    }
    let statements = || {
        gated
            .gate
            .statements
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = statements();
    // Written around the server, so that the only statements counted are the streams'.
    gated
        .app
        .sql(&format!(
            "INSERT INTO task (user_id, title) VALUES ({}, 'for every stream')",
            alice.id
        ))
        .await;
    for events in &mut streams {
        assert_eq!(events.batch().await[0].data["title"], "for every stream");
    }
    assert_eq!(statements() - before, 1, "one read for the three streams");
}

#[tokio::test]
async fn an_open_idle_stream_sends_the_database_nothing() {
    let (app, gate) = crate::refusals::behind_gate(&[("SSE_HEARTBEAT", "200ms")]).await;
    let alice = app.sign_up("alice").await;
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    // Two heartbeats: whatever opening the stream sent (and sqlx's pings of the connections
    // it gave back) is long done.
    let task = alice.add_task("before the quiet").await;
    events.batch().await;
    events.heartbeats(2).await;
    let sent = || gate.sent.load(std::sync::atomic::Ordering::Relaxed);
    let before = sent();
    crate::helpers::holds_for(
        "an open idle stream sends the database nothing",
        Duration::from_secs(1),
        async || sent() == before,
    )
    .await;
    events.heartbeats(1).await;
    alice.get_task(task.id).expect(200).await;
}

#[tokio::test]
async fn writes_announce_changes_only_while_some_instance_has_a_stream_open() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut heard = sqlx::postgres::PgListener::connect(&app.db.url)
        .await
        .unwrap();
    heard.listen("task_changed").await.unwrap();
    let mut next_note = async || {
        tokio::time::timeout(Duration::from_millis(50), heard.try_recv())
            .await
            .ok()
            .map(|note| note.unwrap().unwrap().payload().to_owned())
    };

    // No stream open anywhere: a write announces nothing (its commit queues for nothing).
    alice.add_task("unheard").await;
    app.sql(&format!(
        "UPDATE task SET title = 'unheard in SQL' WHERE user_id = {}",
        alice.id
    ))
    .await;
    crate::helpers::holds_for(
        "no announcement without an open stream",
        Duration::from_millis(500),
        async || next_note().await.is_none(),
    )
    .await;

    // A stream opens: from then on every write is announced, and the stream has it.
    let mut events = Events::open(&alice, None).await;
    events.expect("ready").await;
    // The listener's own probe.
    while next_note().await.is_some() {}
    let task = alice.add_task("heard").await;
    let note =
        crate::helpers::wait_for("an announcement", DEADLINE, async || next_note().await).await;
    assert_eq!(note, alice.id.to_string());
    assert_eq!(events.batch().await.last().unwrap().data["id"], task.id);
}

#[tokio::test]
async fn a_write_that_found_no_lease_and_commits_as_a_stream_opens_reaches_the_stream() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    // A write in flight that found no lease (so it will not announce itself)...
    let mut writer = app.db.connect().await;
    sqlx::raw_sql("BEGIN").execute(&mut writer).await.unwrap();
    sqlx::query("INSERT INTO task (user_id, title) VALUES ($1, 'in flight')")
        .bind(alice.id)
        .execute(&mut writer)
        .await
        .unwrap();
    // ... commits while the first stream opens: setting the lease waits for it.
    let commit = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::raw_sql("COMMIT").execute(&mut writer).await.unwrap();
    });
    let mut events = Events::open(&alice, None).await;
    let ready = events.expect("ready").await;
    commit.await.unwrap();
    // Whatever its position has not seen, the stream sends.
    let mut copy = Copy {
        tasks: Default::default(),
        next: ready.id,
    };
    let unseen = copy.catch_up(&alice).await;
    if !unseen["changed"].as_array().unwrap().is_empty() {
        let batch = events.batch().await;
        assert_eq!(batch.last().unwrap().data["title"], "in flight");
    }
}
