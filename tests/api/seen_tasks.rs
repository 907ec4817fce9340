//! Changes decided on a task as this instance last saw it: one statement when the task has
//! not moved since, and exactly what reading it first would give when it has (whoever moved
//! it: SQL, another instance).

use std::sync::atomic::Ordering;

use serde_json::json;

use crate::{
    helpers::{TestApp, User},
    refusals::gated,
};

/// `(completed, version)` of task `id` in the database.
async fn stored(app: &TestApp, id: i64) -> (bool, i32) {
    sqlx::query_as("SELECT completed, version FROM task WHERE id = $1")
        .bind(id as i32)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_toggle_of_a_task_seen_unchanged_is_one_statement_and_of_a_moved_or_unseen_one_two() {
    let gated = gated(&[]).await;
    let alice = &gated.alice;
    let kept = alice.add_task("listed, then left alone").await;
    let moved = alice.add_task("listed, then changed elsewhere").await;
    alice.list_tasks().expect(200).await;
    let other = gated.app.another_instance().await;
    let on_other = User::new(&other, alice.id, alice.token.clone());
    on_other.complete_task(moved.id).expect(200).await;
    let unseen = on_other.add_task("never read here").await;
    // Statements run, not round trips: preparing a statement on a connection that has not
    // run it yet, and sqlx's ping of each connection given back to the pool, run none.
    alice.get_task(kept.id).expect(200).await;
    alice.complete_task(kept.id).expect(200).await;

    let statements = || gated.gate.statements.load(Ordering::Relaxed);
    let before = statements();
    assert!(
        !alice
            .complete_task(kept.id)
            .expect(200)
            .await
            .task()
            .completed
    );
    assert_eq!(statements() - before, 1, "the write alone");

    let before = statements();
    let toggled = alice.complete_task(moved.id).expect(200).await.task();
    assert!(!toggled.completed, "the other instance had completed it");
    assert_eq!(
        statements() - before,
        2,
        "the write finds it moved and answers with it as it is, the next write succeeds"
    );

    let before = statements();
    assert!(
        alice
            .complete_task(unseen.id)
            .expect(200)
            .await
            .task()
            .completed
    );
    assert_eq!(statements() - before, 2, "read, write");
    // Its answer was seen: toggling it back is one statement.
    let before = statements();
    assert!(
        !alice
            .complete_task(unseen.id)
            .expect(200)
            .await
            .task()
            .completed
    );
    assert_eq!(statements() - before, 1);
}

#[tokio::test]
async fn a_seen_task_changed_since_in_sql_is_toggled_from_what_it_is_now() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("one").await;
    alice.get_task(task.id).expect(200).await;
    app.sql(&format!(
        "UPDATE task SET completed = true WHERE id = {}",
        task.id
    ))
    .await;
    let toggled = alice.complete_task(task.id).expect(200).await.task();
    assert!(!toggled.completed, "toggled from the stale copy");
    assert_eq!(stored(&app, task.id).await, (false, 3));
    // An edit too starts from the task as it is now.
    app.sql(&format!(
        "UPDATE task SET title = 'renamed' WHERE id = {}",
        task.id
    ))
    .await;
    let edited = alice
        .put_task(task.id)
        .json(&json!({"priority": "Low"}))
        .expect(200)
        .await
        .task();
    assert_eq!(edited.title, "renamed");
    assert_eq!(edited.priority, "Low");
}

#[tokio::test]
async fn if_match_is_judged_on_the_task_as_it_is_not_as_it_was_seen() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let alice = a.sign_up("alice").await;
    let on_b = User::new(&b, alice.id, alice.token.clone());
    let task = alice.add_task("one").await;
    let first = alice.get_task(task.id).expect(200).await.etag();
    // Instance B changes it; A still has the first version.
    let second = on_b
        .put_task(task.id)
        .json(&json!({"title": "two"}))
        .expect(200)
        .await
        .etag();
    assert_ne!(first, second);
    alice
        .complete_task(task.id)
        .if_match(&first)
        .expect_problem(412)
        .await;
    let done = alice
        .complete_task(task.id)
        .if_match(&second)
        .expect(200)
        .await
        .task();
    assert!(done.completed);
    assert_eq!(done.title, "two");
}

#[tokio::test]
async fn a_seen_task_deleted_since_or_asked_for_by_another_user_is_not_found() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let task = alice.add_task("one").await;
    alice.list_tasks().expect(200).await;
    // Bob's own URL, Alice's task id: the copy seen for Alice is not his.
    bob.complete_task(task.id).expect_problem(404).await;
    assert_eq!(stored(&app, task.id).await, (false, 1));
    app.sql(&format!("DELETE FROM task WHERE id = {}", task.id))
        .await;
    alice.complete_task(task.id).expect_problem(404).await;
}

#[tokio::test]
async fn changes_are_counted_by_what_they_were_decided_on() {
    let (app, metrics_addr) = crate::metrics::app_with_metrics(&[]).await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("seen here").await;
    alice.get_task(task.id).expect(200).await;
    alice.complete_task(task.id).expect(200).await;
    app.sql(&format!(
        "UPDATE task SET title = 'moved elsewhere' WHERE id = {}",
        task.id
    ))
    .await;
    alice.complete_task(task.id).expect(200).await;
    let unseen: i32 = sqlx::query_scalar(
        "INSERT INTO task (user_id, title, priority) VALUES ($1, 'never seen', 'High') RETURNING id",
    )
    .bind(alice.id as i32)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    alice.complete_task(unseen.into()).expect(200).await;

    let text = crate::metrics::scrape(&app, metrics_addr).await;
    let decided = |on: &str| {
        crate::metrics::value(
            &text,
            &format!("task_change_decisions_total{{on=\"{on}\"}}"),
        )
    };
    assert_eq!(decided("seen"), Some(2.0), "{text}");
    assert_eq!(
        decided("moved"),
        Some(1.0),
        "the stale copy, then the task as the write found it"
    );
    assert_eq!(decided("read"), Some(1.0));
}
