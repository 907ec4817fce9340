//! Recurring tasks: each completion creates the next occurrence, anchored on the series.

use serde_json::{Value, json};

use crate::{helpers::TestApp, tasks::User};

async fn complete(app: &TestApp, user: &User, id: i64) {
    let url = format!("{}/complete", app.task_url(user.id, id));
    let response = app
        .client
        .patch(url)
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn open_tasks(app: &TestApp, user: &User) -> Vec<Value> {
    let url = format!("{}?completed=false", app.tasks_url(user.id));
    let response = app
        .client
        .get(url)
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

/// Completes the open task of a series `n` times, returning each next due date.
async fn follow_series(app: &TestApp, user: &User, n: usize) -> Vec<String> {
    let mut dues = Vec::new();
    for _ in 0..n {
        let open = open_tasks(app, user).await;
        assert_eq!(open.len(), 1, "{open:?}");
        complete(app, user, open[0]["id"].as_i64().unwrap()).await;
        let next = open_tasks(app, user).await;
        dues.push(next[0]["due_date"].as_str().unwrap().to_owned());
    }
    dues
}

#[tokio::test]
async fn a_monthly_task_due_on_the_31st_comes_back_to_the_31st() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    app.create_task(
        &alice,
        json!({"title": "Rent", "due_date": "2027-01-31", "recursion_pattern": "monthly"}),
    )
    .await;
    let dues = follow_series(&app, &alice, 3).await;
    assert_eq!(dues, ["2027-02-28", "2027-03-31", "2027-04-30"]);
}

#[tokio::test]
async fn a_monthly_series_from_january_31_meets_february_29_in_a_leap_year() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    app.create_task(
        &alice,
        json!({"title": "Rent", "due_date": "2028-01-31", "recursion_pattern": "monthly"}),
    )
    .await;
    let dues = follow_series(&app, &alice, 2).await;
    assert_eq!(dues, ["2028-02-29", "2028-03-31"]);
}

#[tokio::test]
async fn a_yearly_task_on_february_29_returns_to_it_in_the_next_leap_year() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    app.create_task(
        &alice,
        json!({"title": "Birthday", "due_date": "2028-02-29", "recursion_pattern": "yearly"}),
    )
    .await;
    let dues = follow_series(&app, &alice, 4).await;
    assert_eq!(
        dues,
        ["2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]
    );
}

#[tokio::test]
async fn a_free_text_recurrence_from_the_old_backend_creates_no_next_occurrence() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let task = app.create_task(&alice, json!({"title": "Legacy"})).await;
    sqlx::query("UPDATE task SET recursion_pattern = 'every other day'")
        .execute(&app.pool)
        .await
        .unwrap();
    complete(&app, &alice, task["id"].as_i64().unwrap()).await;
    assert_eq!(app.task_count().await, 1);
}
