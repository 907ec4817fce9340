//! Recurring tasks: each completion creates the next occurrence, anchored on the series.

use serde_json::json;

use crate::helpers::{TestApp, User};

/// Completes the open task of `user`'s one series `n` times, returning each next due date.
async fn follow_series(user: &User, n: usize) -> Vec<String> {
    let mut dues = Vec::new();
    for _ in 0..n {
        let open = user
            .list_tasks()
            .query("completed=false")
            .expect(200)
            .await
            .tasks();
        assert_eq!(open.len(), 1, "{open:?}");
        user.complete_task(open[0].id).expect(200).await;
        let next = user
            .list_tasks()
            .query("completed=false")
            .expect(200)
            .await
            .tasks();
        dues.push(next[0].due_date.clone().unwrap());
    }
    dues
}

async fn series(app: &TestApp, due_date: &str, rule: &str, n: usize) -> Vec<String> {
    let alice = app.sign_up("alice").await;
    alice
        .new_task(json!({"title": "Series", "due_date": due_date, "recursion_pattern": rule}))
        .await;
    follow_series(&alice, n).await
}

#[tokio::test]
async fn a_monthly_task_due_on_the_31st_comes_back_to_the_31st() {
    let app = TestApp::spawn().await;
    let dues = series(&app, "2027-01-31", "monthly", 3).await;
    assert_eq!(dues, ["2027-02-28", "2027-03-31", "2027-04-30"]);
}

#[tokio::test]
async fn a_monthly_series_from_january_31_meets_february_29_in_a_leap_year() {
    let app = TestApp::spawn().await;
    let dues = series(&app, "2028-01-31", "monthly", 2).await;
    assert_eq!(dues, ["2028-02-29", "2028-03-31"]);
}

#[tokio::test]
async fn a_yearly_task_on_february_29_returns_to_it_in_the_next_leap_year() {
    let app = TestApp::spawn().await;
    let dues = series(&app, "2028-02-29", "yearly", 4).await;
    assert_eq!(
        dues,
        ["2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]
    );
}

#[tokio::test]
async fn a_free_text_recurrence_from_the_old_backend_creates_no_next_occurrence() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let task = alice.add_task("Legacy").await;
    sqlx::query("UPDATE task SET recursion_pattern = 'every other day'")
        .execute(&app.pool)
        .await
        .unwrap();
    alice.complete_task(task.id).expect(200).await;
    assert_eq!(app.task_count().await, 1);
}
