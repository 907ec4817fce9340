//! Listing tasks: filters, sorts, keyset pages, totals and ETags.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, problem},
    tasks::User,
};

impl TestApp {
    /// GET the list with `query`, asking for the total; returns (titles, X-Total-Count, next
    /// link).
    async fn list(&self, user: &User, query: &str) -> (Vec<String>, i64, Option<String>) {
        let response = self
            .client
            .get(format!("{}?{query}", self.tasks_url(user.id)))
            .bearer_auth(&user.token)
            .header("prefer", "count=exact")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{query}");
        let total = response.headers()["x-total-count"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let next = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let body: Vec<Value> = response.json().await.unwrap();
        let titles = body
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect();
        (titles, total, next)
    }
}

/// The query string of a `Link: <path?query>; rel="next"` header.
fn next_query(link: &str) -> String {
    let inside = link.trim_start_matches('<').split('>').next().unwrap();
    inside.split_once('?').unwrap().1.to_owned()
}

async fn seeded() -> (TestApp, User) {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    let tasks = [
        json!({"title": "Buy milk", "priority": "High", "tags": "home,errands", "due_date": "2026-12-01"}),
        json!({"title": "Write report", "description": "quarterly numbers", "priority": "Low", "tags": "work", "due_date": "2026-12-05T17:00:00Z"}),
        json!({"title": "call mom", "priority": "Medium", "tags": "Family"}),
        json!({"title": "Pay rent", "priority": "High", "tags": "home", "due_date": "2026-11-30", "completed": true}),
        json!({"title": "100% done_ish", "priority": "Low"}),
    ];
    for t in tasks {
        app.create_task(&alice, t).await;
    }
    (app, alice)
}

#[tokio::test]
async fn without_parameters_every_task_comes_newest_first() {
    let (app, alice) = seeded().await;
    let (titles, total, next) = app.list(&alice, "").await;
    assert_eq!(
        titles,
        [
            "100% done_ish",
            "Pay rent",
            "call mom",
            "Write report",
            "Buy milk"
        ]
    );
    assert_eq!(total, 5);
    assert_eq!(next, None);
    // Another user's tasks never appear.
    let bob = app.login_user("bob").await;
    assert_eq!(app.list(&bob, "").await.1, 0);
}

#[tokio::test]
async fn each_filter_narrows_the_list_and_the_total() {
    let (app, alice) = seeded().await;
    let cases: &[(&str, &[&str])] = &[
        ("completed=true", &["Pay rent"]),
        (
            "completed=false",
            &["100% done_ish", "call mom", "Write report", "Buy milk"],
        ),
        ("priority=High", &["Pay rent", "Buy milk"]),
        ("tag=home", &["Pay rent", "Buy milk"]),
        ("tag=FAMILY", &["call mom"]),
        ("tag=err", &[]),
        ("q=REPORT", &["Write report"]),
        ("q=quarterly", &["Write report"]),
        ("q=100%25", &["100% done_ish"]),
        ("q=_", &["100% done_ish"]),
        ("due_before=2026-12-02", &["Pay rent", "Buy milk"]),
        ("due_after=2026-12-01", &["Write report"]),
        (
            "due_after=2026-12-01T00:00:00Z&due_before=2026-12-06",
            &["Write report"],
        ),
        ("priority=High&completed=false&tag=home", &["Buy milk"]),
    ];
    for (query, expected) in cases {
        let (titles, total, _) = app.list(&alice, query).await;
        assert_eq!(titles, *expected, "{query}");
        assert_eq!(total, expected.len() as i64, "{query}");
    }
}

#[tokio::test]
async fn each_sort_orders_as_documented() {
    let (app, alice) = seeded().await;
    let cases: &[(&str, &[&str])] = &[
        (
            "sort=created_at&order=asc",
            &[
                "Buy milk",
                "Write report",
                "call mom",
                "Pay rent",
                "100% done_ish",
            ],
        ),
        (
            "sort=title",
            &[
                "100% done_ish",
                "Buy milk",
                "call mom",
                "Pay rent",
                "Write report",
            ],
        ),
        (
            "sort=title&order=desc",
            &[
                "Write report",
                "Pay rent",
                "call mom",
                "Buy milk",
                "100% done_ish",
            ],
        ),
        (
            "sort=priority&order=desc",
            &[
                "Pay rent",
                "Buy milk",
                "call mom",
                "100% done_ish",
                "Write report",
            ],
        ),
        (
            "sort=priority",
            &[
                "Write report",
                "100% done_ish",
                "call mom",
                "Buy milk",
                "Pay rent",
            ],
        ),
        (
            "sort=due_date",
            &[
                "Pay rent",
                "Buy milk",
                "Write report",
                "call mom",
                "100% done_ish",
            ],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(app.list(&alice, query).await.0, *expected, "{query}");
    }
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter() {
    let (app, alice) = seeded().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("completed=maybe", "completed"),
        ("priority=high", "priority"),
        ("sort=colour", "sort"),
        ("order=up", "order"),
        ("due_before=someday", "due_before"),
        ("cursor=bm90IGEgY3Vyc29y", "cursor"),
        ("cursor=%%%", "cursor"),
    ] {
        let response = app
            .client
            .get(format!("{}?{query}", app.tasks_url(alice.id)))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap();
        let body = problem(response, 422).await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
}

#[tokio::test]
async fn pages_cover_every_task_once_even_with_inserts_in_between() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    for i in 0..23 {
        let priority = ["High", "Medium", "Low"][i % 3];
        app.create_task(
            &alice,
            json!({"title": format!("task {i:02}"), "priority": priority}),
        )
        .await;
    }
    for sort in [
        "",
        "sort=title",
        "sort=priority",
        "sort=due_date",
        "sort=updated_at&order=asc",
    ] {
        let mut seen = Vec::new();
        let mut query = format!("limit=5&{sort}");
        let mut pages = 0;
        loop {
            let (titles, total, next) = app.list(&alice, &query).await;
            assert!(titles.len() <= 5);
            seen.extend(titles);
            pages += 1;
            // A task created while paging sorts before the cursor (newest) or is simply not
            // reached twice; either way nothing already seen repeats and nothing is skipped.
            if pages == 2 && sort.is_empty() {
                app.create_task(&alice, json!({"title": "late arrival"}))
                    .await;
                assert_eq!(total, 23);
            }
            match next {
                Some(link) => query = next_query(&link),
                None => break,
            }
        }
        let expected: Vec<String> = (0..23).map(|i| format!("task {i:02}")).collect();
        let mut sorted = seen.clone();
        sorted.retain(|t| t != "late arrival");
        let mut unique = sorted.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            sorted.len(),
            "{sort}: repeated tasks in {seen:?}"
        );
        assert_eq!(unique, expected, "{sort}: skipped tasks");
    }
}

#[tokio::test]
async fn the_next_link_keeps_the_filters_and_the_cursor_keeps_its_sort() {
    let (app, alice) = seeded().await;
    let (titles, total, next) = app.list(&alice, "priority=High&limit=1").await;
    assert_eq!((titles.len(), total), (1, 2));
    let next = next.unwrap();
    assert!(next.ends_with("; rel=\"next\""), "{next}");
    let query = next_query(&next);
    assert!(
        query.contains("priority=High") && query.contains("limit=1"),
        "{query}"
    );
    let (titles, _, last) = app.list(&alice, &query).await;
    assert_eq!(titles, ["Buy milk"]);
    assert_eq!(last, None);
    // A cursor continues the listing it came from, whatever sort is asked for alongside.
    let (titles, _, _) = app
        .list(&alice, &format!("{query}&sort=title&order=desc"))
        .await;
    assert_eq!(titles, ["Buy milk"]);
}

#[tokio::test]
async fn the_list_etag_answers_304_until_something_changes() {
    let (app, alice) = seeded().await;
    let url = app.tasks_url(alice.id);
    let first = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let cached = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    app.create_task(&alice, json!({"title": "new"})).await;
    let changed = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let etag = changed.headers()["etag"].to_str().unwrap().to_owned();
    let task_id: i32 = sqlx::query_scalar("SELECT min(id) FROM task")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    app.client
        .put(app.task_url(alice.id, i64::from(task_id)))
        .bearer_auth(&alice.token)
        .json(&json!({"title": "renamed"}))
        .send()
        .await
        .unwrap();
    let changed = app
        .client
        .get(&url)
        .bearer_auth(&alice.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        changed.status(),
        200,
        "an update must change the list's ETag"
    );
}

#[tokio::test]
async fn a_user_with_100_000_tasks_pages_quickly_through_the_index() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    sqlx::query(
        "INSERT INTO task (user_id, title, priority, created_at)
         SELECT $1, 'bulk ' || g, 'Medium', timezone('utc', now()) - make_interval(secs => g)
         FROM generate_series(1, 100000) AS g",
    )
    .bind(alice.id as i32)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE task")
        .execute(&app.pool)
        .await
        .unwrap();
    let (titles, total, next) = app.list(&alice, "limit=50").await;
    assert_eq!((titles.len(), total), (50, 100_000));
    assert_eq!(titles[0], "bulk 1");
    // Jump deep: the cursor of the 90 000th task.
    let deep: (String, i32) = sqlx::query_as(
        "SELECT created_at::text, id FROM task ORDER BY created_at DESC, id DESC OFFSET 89999 LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    use base64::Engine;
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"s": "created_at", "o": "desc", "k": deep.0, "i": deep.1}).to_string());
    let (titles, _, _) = app.list(&alice, &format!("limit=50&cursor={cursor}")).await;
    assert_eq!(titles[0], "bulk 90001");
    assert!(next.is_some());
    // The deep page is an index range scan, not a sort of 100 000 rows.
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN SELECT id FROM task WHERE user_id = {} AND (created_at, id) < ('{}'::timestamp, {})
         ORDER BY created_at DESC, id DESC LIMIT 51",
        alice.id, deep.0, deep.1
    )))
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("task_user_created_idx") && !plan.contains("Sort"),
        "{plan}"
    );
}
