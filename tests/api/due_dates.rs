//! The range of due dates: the years 1000 to 9998 with offsets up to 15:59, so the date as
//! written and its moment in UTC are both in range. Outside it, a 422 naming the field; rows written around the API with other
//! values still list and page; a series ends where its next date would leave the range.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{TestApp, User};

#[tokio::test]
async fn due_dates_outside_the_range_are_422_naming_the_field_and_store_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for outside in [
        "0000-02-29",
        "0999-12-31",
        "9999-12-31",
        "9999-12-31T23:59:59-15:59",
        "9999-12-31T23:59:59.999999999+00:00",
        "2026-12-01T10:00:00+16:00",
    ] {
        let problem = alice
            .create_task()
            .json(&json!({"title": "t", "due_date": outside}))
            .expect_problem(422)
            .await;
        assert_eq!(problem.fields(), ["due_date"], "{outside}");
        assert!(
            problem.detail.contains("1000 to 9998")
                || problem
                    .errors
                    .iter()
                    .any(|e| e.message.contains("1000 to 9998")),
            "{outside}"
        );
    }
    assert_eq!(app.task_count().await, 0);
    for inside in ["1000-01-01T00:00:00+15:59", "9998-12-31T23:59:59-15:59"] {
        let task = alice
            .new_task(json!({"title": "edge", "due_date": inside}))
            .await;
        assert_eq!(task.due_date.as_deref(), Some(inside));
    }
    // Both moments were stored, so due filters and sorting find them.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM task WHERE due_at IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 2);
}

/// Every task of `alice` by following the server's own `Link` from `query`.
async fn walk(alice: &User, query: &str) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut next = Some(query.to_owned());
    while let Some(query) = next {
        let page = alice.list_tasks().query(&query).expect(200).await;
        seen.extend(page.tasks().iter().map(|t| t.id));
        next = page.next_query();
        assert!(seen.len() <= 20, "the walk does not end");
    }
    seen
}

#[tokio::test]
async fn every_link_the_server_gives_is_accepted_whatever_rows_written_around_it_hold() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    alice.add_task("no due date").await;
    alice
        .new_task(json!({"title": "in range", "due_date": "2026-12-01"}))
        .await;
    // Written by psql or the old backend: moments past year 9999 and before year 1.
    app.sql(&format!(
        "INSERT INTO task (user_id, title, due_date) VALUES
           ({id}, 'year 10000', '9999-12-31T23:59:59-15:59'),
           ({id}, 'rounded up', '9999-12-31T23:59:59.999999999+00:00'),
           ({id}, 'before christ', '0001-01-01T00:00:00+01:00'),
           ({id}, 'free text', 'next friday')",
        id = alice.id
    ))
    .await;
    let all: HashSet<i64> = walk(&alice, "").await.into_iter().collect();
    assert_eq!(all.len(), 6);
    for order in ["asc", "desc"] {
        let walked = walk(&alice, &format!("sort=due_date&order={order}&limit=1")).await;
        assert_eq!(walked.len(), 6, "{order}: {walked:?}");
        assert_eq!(
            walked.iter().copied().collect::<HashSet<_>>(),
            all,
            "{order}"
        );
    }
}

#[tokio::test]
async fn a_series_ends_where_its_next_date_would_leave_the_range() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for rule in ["daily", "yearly"] {
        let task = alice
            .new_task(json!({"title": rule, "due_date": "9998-12-31", "recursion_pattern": rule}))
            .await;
        alice.complete_task(task.id).expect(200).await;
    }
    let tasks = alice.list_tasks().expect(200).await.tasks();
    assert_eq!(
        tasks.len(),
        2,
        "no occurrence after the last day of the range"
    );
    assert!(tasks.iter().all(|t| t.completed));
}
