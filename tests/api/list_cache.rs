//! Lists served again: a list request whose user's tasks have not changed since gets the list
//! kept from before, and any change, whoever makes it, shows in the very next list; one that
//! fires no triggers, once the list is older than `LIST_CACHE_MAX_AGE`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    helpers::{TestApp, User},
    metrics::{app_with_metrics, scrape, value},
};

/// The titles of `user`'s list, newest first, with its ETag.
async fn titles(user: &User) -> (Vec<String>, String) {
    let reply = user.list_tasks().expect(200).await;
    let titles = reply.tasks().into_iter().map(|t| t.title).collect();
    (titles, reply.etag())
}

/// List requests answered with a kept list (hits) and with a page read (misses).
async fn outcomes(app: &TestApp, metrics: std::net::SocketAddr) -> (f64, f64) {
    let text = scrape(app, metrics).await;
    let count = |outcome: &str| {
        value(
            &text,
            &format!("list_cache_requests_total{{outcome=\"{outcome}\"}}"),
        )
        .unwrap_or(0.0)
    };
    (count("hit"), count("miss"))
}

#[tokio::test]
async fn a_list_asked_again_unchanged_is_the_kept_one_and_any_api_change_reads_it_anew() {
    let (app, metrics) = app_with_metrics(&[]).await;
    let alice = app.sign_up("alice").await;
    let first = alice.add_task("first").await;
    let (list, etag) = titles(&alice).await;
    assert_eq!(list, ["first"]);
    let again = alice.list_tasks().expect(200).await;
    assert_eq!(again.etag(), etag);
    assert_eq!(again.tasks()[0].title, "first");
    assert_eq!(outcomes(&app, metrics).await, (1.0, 1.0));

    // Each write shows in the next list, and the list after it is kept again.
    let second = alice.add_task("second").await;
    assert_eq!(titles(&alice).await.0, ["second", "first"]);
    alice
        .put_task(first.id)
        .json(&json!({"title": "first, renamed"}))
        .expect(200)
        .await;
    assert_eq!(titles(&alice).await.0, ["second", "first, renamed"]);
    alice.complete_task(second.id).expect(200).await;
    let done = alice.list_tasks().expect(200).await.tasks();
    assert!(done[0].completed);
    alice.delete_task(second.id).expect(204).await;
    assert_eq!(titles(&alice).await.0, ["first, renamed"]);
    assert_eq!(titles(&alice).await.0, ["first, renamed"]);
    assert_eq!(outcomes(&app, metrics).await, (2.0, 5.0));
}

#[tokio::test]
async fn a_change_made_outside_the_server_shows_in_the_next_list() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("kept").await;
    assert_eq!(titles(&alice).await.0, ["kept"]);
    assert_eq!(titles(&alice).await.0, ["kept"]);

    // As the old backend or an operator would: plain SQL, no server involved.
    app.sql(&format!(
        "UPDATE task SET title = 'renamed' WHERE id = {}",
        task.id
    ))
    .await;
    assert_eq!(titles(&alice).await.0, ["renamed"]);
    app.sql(&format!(
            "INSERT INTO task (user_id, title, created_at) VALUES ({}, 'inserted', timezone('utc', now()) + interval '1 minute')",
            alice.id
        ),
    )
    .await;
    assert_eq!(titles(&alice).await.0, ["inserted", "renamed"]);
    app.sql(&format!("DELETE FROM task WHERE id = {}", task.id))
        .await;
    assert_eq!(titles(&alice).await.0, ["inserted"]);
    app.sql("TRUNCATE task").await;
    assert!(titles(&alice).await.0.is_empty());
}

#[tokio::test]
async fn a_change_made_on_another_instance_shows_on_this_one_at_once() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let alice = a.sign_up("alice").await;
    let on_b = User::new(&b, alice.id, alice.token.clone());
    let task = alice.add_task("one").await;
    assert_eq!(titles(&alice).await.0, ["one"]);
    assert_eq!(titles(&on_b).await.0, ["one"]);

    on_b.complete_task(task.id).expect(200).await;
    let on_a = alice.list_tasks().expect(200).await.tasks();
    assert!(on_a[0].completed, "instance A served its old list");
    on_b.add_task("two").await;
    assert_eq!(titles(&alice).await.0, ["two", "one"]);
    alice.delete_task(task.id).expect(204).await;
    assert_eq!(titles(&on_b).await.0, ["two"]);
}

#[tokio::test]
async fn lists_are_kept_apart_by_user_query_and_count() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    for title in ["a", "b", "c"] {
        alice.add_task(title).await;
    }
    bob.add_task("bob's").await;
    for _ in 0..2 {
        assert_eq!(titles(&alice).await.0, ["c", "b", "a"]);
        assert_eq!(titles(&bob).await.0, ["bob's"]);
        let page = alice.list_tasks().query("limit=2").expect(200).await;
        let next = page.next_query().expect("a second page");
        let page: Vec<_> = page.tasks().into_iter().map(|t| t.title).collect();
        assert_eq!(page, ["c", "b"]);
        let rest = alice.list_tasks().query(&next).expect(200).await;
        assert_eq!(rest.tasks()[0].title, "a");
        assert_eq!(rest.next_query(), None);
        let counted = alice
            .list_tasks()
            .header("prefer", "count=exact")
            .expect(200)
            .await;
        assert_eq!(counted.total(), 3);
        assert_eq!(counted.header("preference-applied"), Some("count=exact"));
        let uncounted = alice.list_tasks().expect(200).await;
        assert_eq!(uncounted.header("x-total-count"), None);
        assert_eq!(uncounted.header("preference-applied"), None);
    }
    // Another user's token on Alice's URL is refused, kept list or not.
    bob.on_urls_of(alice.id)
        .list_tasks()
        .expect_problem(403)
        .await;
}

#[tokio::test]
async fn a_kept_list_answers_if_none_match_with_304_until_it_changes() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("one").await;
    let (_, etag) = titles(&alice).await;
    for _ in 0..2 {
        let reply = alice.list_tasks().if_none_match(&etag).send().await;
        assert_eq!(reply.status(), 304);
        assert_eq!(reply.etag(), etag);
    }
    alice.complete_task(task.id).expect(200).await;
    let reply = alice.list_tasks().if_none_match(&etag).expect(200).await;
    assert_ne!(reply.etag(), etag);
    assert!(reply.tasks()[0].completed);
}

#[tokio::test]
async fn a_user_with_no_list_version_is_read_every_time_and_list_cache_bytes_0_keeps_nothing() {
    let (app, metrics) = app_with_metrics(&[]).await;
    // A user the old backend made after the migration, with no task yet: no version.
    let alice = app.sign_up("alice").await;
    app.sql("DELETE FROM task_list").await;
    for _ in 0..2 {
        assert!(titles(&alice).await.0.is_empty());
    }
    assert_eq!(outcomes(&app, metrics).await, (0.0, 2.0));
    app.sql(&format!(
        "INSERT INTO task (user_id, title) VALUES ({}, 'first')",
        alice.id
    ))
    .await;
    assert_eq!(titles(&alice).await.0, ["first"]);
    assert_eq!(titles(&alice).await.0, ["first"]);
    assert_eq!(outcomes(&app, metrics).await, (1.0, 3.0));

    // The metrics are the process's: this second server counts on from the first one's.
    let (off, metrics) = app_with_metrics(&[("LIST_CACHE_BYTES", "0")]).await;
    let bob = off.sign_up("bob").await;
    bob.add_task("one").await;
    for _ in 0..3 {
        assert_eq!(titles(&bob).await.0, ["one"]);
    }
    assert_eq!(outcomes(&off, metrics).await, (1.0, 6.0));
}

#[tokio::test]
async fn every_task_write_gives_its_user_a_new_list_version() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    alice.add_task("one").await;
    let versions: Vec<(i32, i64)> =
        sqlx::query_as("SELECT user_id, version FROM task_list ORDER BY version")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(i64::from(versions[0].0), alice.id);
    let before = versions[0].1;
    alice.add_task("two").await;
    let after: i64 = sqlx::query_scalar("SELECT version FROM task_list WHERE user_id = $1")
        .bind(alice.id as i32)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(after > before);
}

#[tokio::test]
async fn a_deleted_users_list_version_goes_with_them() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    alice.add_task("one").await;
    bob.add_task("two").await;
    app.sql(&format!("DELETE FROM \"user\" WHERE id = {}", alice.id))
        .await;
    let left: Vec<i32> = sqlx::query_scalar("SELECT user_id FROM task_list ORDER BY user_id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, [bob.id as i32]);
}

/// `task_list.tasks` of `user`, and how many tasks they really have.
async fn kept_count(app: &TestApp, user: &User) -> (Option<i32>, i64) {
    sqlx::query_as(
        "SELECT (SELECT tasks FROM task_list WHERE user_id = $1),
                (SELECT count(*) FROM task WHERE user_id = $1)",
    )
    .bind(user.id as i32)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_task_count_kept_for_the_quota_follows_every_change_whoever_makes_it() {
    let app = TestApp::spawn_on(
        crate::helpers::TestDb::create().await,
        &[("MAX_TASKS_PER_USER", "4")],
    )
    .await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let one = alice.add_task("one").await;
    alice.add_task("two").await;
    assert_eq!(kept_count(&app, &alice).await, (Some(2), 2));
    alice.delete_task(one.id).expect(204).await;
    assert_eq!(kept_count(&app, &alice).await, (Some(1), 1));
    // In SQL: two inserts in one statement, a task moved to Bob, a row lost and made again.
    app.sql(&format!(
        "INSERT INTO task (user_id, title) VALUES ({0}, 'a'), ({0}, 'b')",
        alice.id
    ))
    .await;
    assert_eq!(kept_count(&app, &alice).await, (Some(3), 3));
    app.sql(&format!(
        "UPDATE task SET user_id = {} WHERE title = 'a' AND user_id = {}",
        bob.id, alice.id
    ))
    .await;
    assert_eq!(kept_count(&app, &alice).await, (Some(2), 2));
    assert_eq!(kept_count(&app, &bob).await, (Some(1), 1));
    app.sql("DELETE FROM task_list").await;
    app.sql(&format!(
        "INSERT INTO task (user_id, title) VALUES ({}, 'c')",
        alice.id
    ))
    .await;
    assert_eq!(kept_count(&app, &alice).await, (Some(3), 3));
    // The quota reads that count: a fourth task is accepted, a fifth refused.
    alice.add_task("four").await;
    alice
        .create_task()
        .json(&json!({"title": "five"}))
        .expect_problem(409)
        .await;
    assert_eq!(kept_count(&app, &alice).await, (Some(4), 4));
    app.sql("TRUNCATE task").await;
    assert_eq!(kept_count(&app, &alice).await, (Some(0), 0));
    alice.add_task("again").await;
    assert_eq!(kept_count(&app, &alice).await, (Some(1), 1));
}

#[tokio::test]
async fn parameters_the_api_does_not_know_find_the_same_kept_list() {
    let (app, metrics) = app_with_metrics(&[]).await;
    let alice = app.sign_up("alice").await;
    for title in ["a", "b", "c"] {
        alice.add_task(title).await;
    }
    let first = alice.list_tasks().query("limit=2&junk=0").expect(200).await;
    let link = first.header("link").unwrap().to_owned();
    assert!(!link.contains("junk"), "{link}");
    for junk in 1..=20 {
        let again = alice
            .list_tasks()
            .query(&format!("junk={junk}&limit=2&utm_source=x{junk}"))
            .expect(200)
            .await;
        assert_eq!(again.etag(), first.etag());
        assert_eq!(again.header("link"), Some(link.as_str()));
    }
    // Another spelling of the same page size and an ignored empty search, too.
    alice.list_tasks().query("limit=02&q=%20").expect(200).await;
    assert_eq!(outcomes(&app, metrics).await, (21.0, 1.0));
}

#[tokio::test]
async fn thousands_of_one_users_junk_lists_leave_another_users_kept_list_a_hit() {
    // 64 KiB: a few dozen of Alice's lists, were each a list of its own.
    let (app, metrics) = app_with_metrics(&[("LIST_CACHE_BYTES", "65536")]).await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    for n in 0..5 {
        alice.add_task(&format!("alice's task {n}")).await;
    }
    bob.add_task("bob's").await;
    assert_eq!(titles(&bob).await.0, ["bob's"]);
    for junk in 0..3000 {
        alice
            .list_tasks()
            .query(&format!("junk={junk}"))
            .expect(200)
            .await;
    }
    let before = outcomes(&app, metrics).await;
    assert_eq!(before, (2999.0, 2.0));
    assert_eq!(titles(&bob).await.0, ["bob's"]);
    assert_eq!(outcomes(&app, metrics).await, (before.0 + 1.0, before.1));
}

#[tokio::test]
async fn one_user_asking_for_many_distinct_lists_leaves_another_users_kept_list_a_hit() {
    let (app, metrics) = app_with_metrics(&[("LIST_CACHE_BYTES", "65536")]).await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    for n in 0..5 {
        alice.add_task(&format!("alice's task {n}")).await;
    }
    bob.add_task("bob's").await;
    assert_eq!(titles(&bob).await.0, ["bob's"]);
    // Every page size, and searches: each a list of its own, all of them Alice's to lose.
    for limit in 1..=200 {
        alice
            .list_tasks()
            .query(&format!("limit={limit}"))
            .expect(200)
            .await;
    }
    for n in 0..100 {
        alice
            .list_tasks()
            .query(&format!("q=task%20{n}"))
            .expect(200)
            .await;
    }
    let before = outcomes(&app, metrics).await;
    assert_eq!(titles(&bob).await.0, ["bob's"]);
    assert_eq!(outcomes(&app, metrics).await, (before.0 + 1.0, before.1));
}

#[tokio::test]
async fn a_task_deleted_with_triggers_off_stops_being_listed_once_the_max_age_has_passed() {
    let max_age = Duration::from_secs(1);
    let app = TestApp::spawn_on(
        crate::helpers::TestDb::create().await,
        &[("LIST_CACHE_MAX_AGE", "1s")],
    )
    .await;
    let alice = app.sign_up("alice").await;
    alice.add_task("stays").await;
    let gone = alice.add_task("deleted").await;
    let before_kept = Instant::now();
    assert_eq!(titles(&alice).await.0, ["deleted", "stays"]);

    // As pg_restore --disable-triggers or a logical replica would: no trigger, no new
    // list version, so the list statement finds the kept list current.
    app.sql(&format!(
        "BEGIN; SET LOCAL session_replication_role = replica; \
         DELETE FROM task WHERE id = {}; COMMIT",
        gone.id
    ))
    .await;
    let deadline = before_kept + 10 * max_age;
    loop {
        let listed = titles(&alice).await.0;
        if listed == ["stays"] {
            break;
        }
        assert_eq!(listed, ["deleted", "stays"]);
        assert!(
            Instant::now() < deadline,
            "still listed after {:?}",
            10 * max_age
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        before_kept.elapsed() >= max_age,
        "the kept list was read again before it was {max_age:?} old: something else moved it"
    );
}
