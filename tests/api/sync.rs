//! Keeping a copy of a user's tasks in sync: `GET …/tasks/changes` answers what changed
//! since a token; applying the answers in order always gives the server's list, whatever
//! order transactions commit in and whoever writes (another instance, SQL).

use std::{collections::BTreeMap, sync::atomic::Ordering, time::Duration};

use serde_json::{Value, json};
use sqlx::Connection;

use crate::{
    helpers::{TestApp, User},
    refusals::gated,
};

/// A client's copy of a user's tasks, by id, and its token.
#[derive(Debug, Default)]
pub struct Copy {
    pub tasks: BTreeMap<i64, Value>,
    pub next: Option<String>,
}

impl Copy {
    /// Follows `Link` from `first` to the last page, applying each; keeps the last `next`.
    /// Returns how many pages there were.
    pub async fn sync(&mut self, user: &User, first: &str) -> usize {
        let mut query = first.to_owned();
        let mut pages = 0;
        loop {
            let reply = user
                .call(
                    reqwest::Method::GET,
                    &format!("/api/{}/tasks/changes", user.id),
                )
                .query(&query)
                .expect(200)
                .await;
            pages += 1;
            let body = reply.value();
            self.apply(&body);
            match reply.header("link") {
                Some(link) => {
                    assert!(body.get("next").is_none(), "only the last page has next");
                    query = link_query(link);
                }
                None => {
                    self.next = Some(body["next"].as_str().expect("next").to_owned());
                    return pages;
                }
            }
        }
    }

    /// From the start: every task.
    pub async fn read_all(user: &User) -> Self {
        let mut copy = Self::default();
        copy.sync(user, "").await;
        copy
    }

    /// What changed since the copy's token.
    pub async fn catch_up(&mut self, user: &User) -> Value {
        let since = self.next.clone().expect("a token");
        let reply = user
            .call(
                reqwest::Method::GET,
                &format!("/api/{}/tasks/changes", user.id),
            )
            .query(&format!("since={since}"))
            .expect(200)
            .await;
        let body = reply.value();
        assert!(reply.header("link").is_none());
        self.apply(&body);
        self.next = Some(body["next"].as_str().expect("next").to_owned());
        body
    }

    pub fn apply(&mut self, body: &Value) {
        for task in body["changed"].as_array().expect("changed") {
            self.tasks
                .insert(task["id"].as_i64().unwrap(), task.clone());
        }
        for id in body["deleted"].as_array().expect("deleted") {
            self.tasks.remove(&id.as_i64().unwrap());
        }
    }

    /// Whether the copy is the server's list, task for task.
    pub async fn assert_is_the_servers(&self, user: &User) {
        let listed = user.list_tasks().expect(200).await.value();
        let server: BTreeMap<i64, Value> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].as_i64().unwrap(), t.clone()))
            .collect();
        assert_eq!(self.tasks, server);
    }
}

/// The query of a `Link: </…?query>; rel="next"` header.
fn link_query(link: &str) -> String {
    let inner = link.split('>').next().unwrap().trim_start_matches('<');
    inner.split_once('?').unwrap().1.to_owned()
}

fn ids(body: &Value, key: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap_or_else(|| v["id"].as_i64().unwrap()))
        .collect();
    ids.sort_unstable();
    ids
}

fn changes_of(user: &User) -> crate::helpers::Call {
    user.call(
        reqwest::Method::GET,
        &format!("/api/{}/tasks/changes", user.id),
    )
}

#[tokio::test]
async fn a_first_sync_gets_every_task_as_the_list_shows_it_and_a_token() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    for n in 0..3 {
        alice.add_task(&format!("task {n}")).await;
    }
    bob.add_task("not alice's").await;
    let copy = Copy::read_all(&alice).await;
    assert_eq!(copy.tasks.len(), 3);
    assert!(copy.next.is_some());
    copy.assert_is_the_servers(&alice).await;
}

#[tokio::test]
async fn a_delta_brings_what_was_created_changed_and_deleted_since_the_token() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let kept = alice.add_task("kept").await;
    let changed = alice.add_task("changed").await;
    let deleted = alice.add_task("deleted").await;
    let mut copy = Copy::read_all(&alice).await;

    alice
        .put_task(changed.id)
        .json(&json!({"title": "changed now"}))
        .expect(200)
        .await;
    alice.delete_task(deleted.id).expect(204).await;
    let created = alice.add_task("created").await;

    let delta = copy.catch_up(&alice).await;
    assert_eq!(ids(&delta, "changed"), vec![changed.id, created.id]);
    assert_eq!(ids(&delta, "deleted"), vec![deleted.id]);
    assert!(copy.tasks.contains_key(&kept.id));
    copy.assert_is_the_servers(&alice).await;

    // Nothing since: an empty answer and a token that works.
    let empty = copy.catch_up(&alice).await;
    assert_eq!(empty["changed"], json!([]));
    assert_eq!(empty["deleted"], json!([]));
}

#[tokio::test]
async fn no_change_is_skipped_when_transactions_commit_in_another_order_than_they_began() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let slow = alice.add_task("written by a long transaction").await;
    let quick = alice.add_task("written by a quick one").await;
    let mut copy = Copy::read_all(&alice).await;
    let mut held = sqlx::PgConnection::connect(&app.db.url).await.unwrap();

    // A transaction takes its number first; a later one writes and commits before it.
    let mut tx = held.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *tx)
        .await
        .unwrap();
    alice
        .put_task(quick.id)
        .json(&json!({"title": "quick, committed first"}))
        .expect(200)
        .await;
    let delta = copy.catch_up(&alice).await;
    assert_eq!(ids(&delta, "changed"), vec![quick.id]);
    sqlx::query("UPDATE task SET title = 'slow, committed last' WHERE id = $1")
        .bind(slow.id as i32)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let delta = copy.catch_up(&alice).await;
    assert_eq!(ids(&delta, "changed"), vec![slow.id]);
    assert_eq!(copy.tasks[&slow.id]["title"], "slow, committed last");

    // A write held open while others commit and the copy catches up around it.
    let mut tx = held.begin().await.unwrap();
    sqlx::query("UPDATE task SET title = 'held open' WHERE id = $1")
        .bind(slow.id as i32)
        .execute(&mut *tx)
        .await
        .unwrap();
    bob.add_task("bob writes meanwhile").await;
    let delta = copy.catch_up(&alice).await;
    assert_eq!(delta["changed"], json!([]), "not committed yet: not seen");
    tx.commit().await.unwrap();
    let delta = copy.catch_up(&alice).await;
    assert_eq!(ids(&delta, "changed"), vec![slow.id]);
    assert_eq!(copy.tasks[&slow.id]["title"], "held open");
    copy.assert_is_the_servers(&alice).await;
}

#[tokio::test]
async fn changes_made_with_sql_and_on_another_instance_count() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("first").await;
    let mut copy = Copy::read_all(&alice).await;
    let other = app.another_instance().await;
    let on_other = User::new(&other, alice.id, alice.token.clone());
    let elsewhere = on_other.add_task("made on the other instance").await;
    app.sql(&format!(
        "UPDATE task SET completed = true WHERE id = {}; \
         INSERT INTO task (user_id, title) VALUES ({}, 'made in psql')",
        task.id, alice.id
    ))
    .await;
    let delta = copy.catch_up(&alice).await;
    assert_eq!(ids(&delta, "changed").len(), 3);
    assert!(ids(&delta, "changed").contains(&elsewhere.id));
    copy.assert_is_the_servers(&alice).await;
}

#[tokio::test]
async fn a_task_given_to_another_user_is_deleted_for_the_first_and_new_for_the_second() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let task = alice.add_task("moving").await;
    let mut alices = Copy::read_all(&alice).await;
    let mut bobs = Copy::read_all(&bob).await;
    app.sql(&format!(
        "UPDATE task SET user_id = {} WHERE id = {}",
        bob.id, task.id
    ))
    .await;
    assert_eq!(
        ids(&alices.catch_up(&alice).await, "deleted"),
        vec![task.id]
    );
    assert_eq!(ids(&bobs.catch_up(&bob).await, "changed"), vec![task.id]);
    alices.assert_is_the_servers(&alice).await;
    bobs.assert_is_the_servers(&bob).await;
}

#[tokio::test]
async fn a_full_read_comes_in_pages_and_a_change_between_pages_is_in_the_next_delta() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut tasks = Vec::new();
    for n in 0..5 {
        tasks.push(alice.add_task(&format!("task {n}")).await);
    }
    let first = changes_of(&alice).query("limit=2").expect(200).await;
    let page = first.value();
    assert_eq!(page["changed"].as_array().unwrap().len(), 2);
    assert!(page.get("next").is_none());
    let link = first.header("link").expect("a link to the next page");
    assert!(link.ends_with("rel=\"next\""), "{link}");
    let mut copy = Copy::default();
    copy.apply(&page);

    // The newest task, already read, changes; a new one comes; an unread one goes.
    let newest = tasks.last().unwrap();
    alice
        .put_task(newest.id)
        .json(&json!({"title": "changed after its page was read"}))
        .expect(200)
        .await;
    let oldest = tasks.first().unwrap();
    alice.delete_task(oldest.id).expect(204).await;
    alice.add_task("created between pages").await;

    let pages = copy.sync(&alice, &link_query(link)).await;
    assert_eq!(
        pages, 1,
        "three were left at two a page, and one of them went"
    );
    copy.catch_up(&alice).await;
    copy.assert_is_the_servers(&alice).await;
    assert_eq!(
        copy.tasks[&newest.id]["title"],
        "changed after its page was read"
    );
}

#[tokio::test]
async fn a_large_delta_comes_in_pages_too() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut copy = Copy::read_all(&alice).await;
    app.sql(&format!(
        "INSERT INTO task (user_id, title) SELECT {}, 'bulk ' || n FROM generate_series(1, 7) n",
        alice.id
    ))
    .await;
    let since = copy.next.clone().unwrap();
    let pages = copy.sync(&alice, &format!("since={since}&limit=3")).await;
    assert_eq!(pages, 3);
    copy.assert_is_the_servers(&alice).await;
}

#[tokio::test]
async fn a_malformed_token_or_cursor_is_a_400_problem() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for query in [
        "since=nonsense!",
        "since=bm90IGEgc25hcHNob3Q",
        // "5:4:", a snapshot PostgreSQL could not have written.
        "since=NTo0Og",
        "since=",
        "cursor=eyJ4IjoxfQ",
    ] {
        let problem = changes_of(&alice).query(query).expect_problem(400).await;
        assert!(
            problem.detail.contains("token"),
            "{query}: {}",
            problem.detail
        );
    }
    changes_of(&alice)
        .query("limit=0")
        .expect_problem(422)
        .await;
}

#[tokio::test]
async fn the_routes_need_the_users_own_token() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    changes_of(&app.anonymous(alice.id))
        .expect_problem(401)
        .await;
    changes_of(&bob.on_urls_of(alice.id))
        .expect_problem(403)
        .await;
}

#[tokio::test]
async fn a_token_older_than_the_kept_changes_is_410_and_a_new_full_read_works() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("old").await;
    let mut copy = Copy::read_all(&alice).await;
    let old = copy.next.clone().unwrap();
    alice.complete_task(task.id).expect(200).await;
    // A month passes: the change is older than the retention, and the sweep prunes it.
    app.sql("UPDATE task_change SET changed_at = changed_at - interval '31 days'")
        .await;
    let swept = todo_api::maintenance::run_once(&app.pool, Duration::from_secs(30 * 24 * 3600))
        .await
        .unwrap();
    assert!(swept.task_changes >= 1);

    let problem = changes_of(&alice)
        .query(&format!("since={old}"))
        .expect_problem(410)
        .await;
    assert!(
        problem.detail.contains("without `since`"),
        "{}",
        problem.detail
    );

    let mut fresh = Copy::read_all(&alice).await;
    fresh.catch_up(&alice).await;
    fresh.assert_is_the_servers(&alice).await;
    copy.tasks.clear();
}

#[tokio::test]
async fn emptying_the_table_sends_every_earlier_token_back_to_a_full_read() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    alice.add_task("gone with the table").await;
    let copy = Copy::read_all(&alice).await;
    app.sql("TRUNCATE task").await;
    changes_of(&alice)
        .query(&format!("since={}", copy.next.unwrap()))
        .expect_problem(410)
        .await;
    let fresh = Copy::read_all(&alice).await;
    assert!(fresh.tasks.is_empty());
}

#[tokio::test]
async fn a_delta_with_nothing_new_is_one_statement() {
    let gated = gated(&[]).await;
    let alice = &gated.alice;
    alice.add_task("unchanged").await;
    let mut copy = Copy::read_all(alice).await;
    copy.catch_up(alice).await;
    let statements = || gated.gate.statements.load(Ordering::Relaxed);
    let before = statements();
    let delta = copy.catch_up(alice).await;
    assert_eq!(delta["changed"], json!([]));
    assert_eq!(statements() - before, 1);
}

#[tokio::test]
async fn a_delta_with_nothing_new_reads_no_task_row() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for n in 0..20 {
        alice.add_task(&format!("task {n}")).await;
    }
    let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    let user = todo_api::domain::ids::UserId(alice.id as i32);
    let now = todo_api::db::changes::now(&mut conn).await.unwrap();
    // This transaction's own statistics: what its statements read of `task`.
    let mut tx = conn.begin().await.unwrap();
    let found = todo_api::db::changes::since(&mut *tx, user, &now, None, 500)
        .await
        .unwrap();
    let todo_api::db::changes::Delta::Found { touched, .. } = found else {
        panic!("the log is whole")
    };
    assert!(touched.is_empty());
    let read: Option<(i64, i64)> = sqlx::query_as(
        "SELECT coalesce(seq_tup_read, 0), coalesce(idx_tup_fetch, 0)
         FROM pg_stat_xact_user_tables WHERE relname = 'task'",
    )
    .fetch_optional(&mut *tx)
    .await
    .unwrap();
    assert_eq!(read.unwrap_or((0, 0)), (0, 0));
}
