//! Listing tasks: filters, sorts, keyset pages, totals and ETags.

use serde_json::json;

use crate::helpers::{TestApp, User};

/// One page of Alice's list: its titles, `X-Total-Count`, and the next page's query.
struct Page {
    titles: Vec<String>,
    total: i64,
    next: Option<String>,
}

/// GET `user`'s list with `query`, asking for the total, asserting 200.
async fn page(user: &User, query: &str) -> Page {
    let reply = user
        .list_tasks()
        .query(query)
        .header("prefer", "count=exact")
        .send()
        .await;
    assert_eq!(reply.status(), 200, "{query}: {}", reply.text());
    Page {
        titles: reply.tasks().into_iter().map(|t| t.title).collect(),
        total: reply.total(),
        next: reply.next_query(),
    }
}

async fn seeded() -> (TestApp, User) {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let tasks = [
        json!({"title": "Buy milk", "priority": "High", "tags": "home,errands", "due_date": "2026-12-01"}),
        json!({"title": "Write report", "description": "quarterly numbers", "priority": "Low", "tags": "work", "due_date": "2026-12-05T17:00:00Z"}),
        json!({"title": "call mom", "priority": "Medium", "tags": "Family"}),
        json!({"title": "Pay rent", "priority": "High", "tags": "home", "due_date": "2026-11-30", "completed": true}),
        json!({"title": "100% done_ish", "priority": "Low"}),
    ];
    for t in tasks {
        alice.new_task(t).await;
    }
    (app, alice)
}

#[tokio::test]
async fn without_parameters_every_task_comes_newest_first() {
    let (_app, alice) = seeded().await;
    let Page {
        titles,
        total,
        next,
    } = page(&alice, "").await;
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
}

#[tokio::test]
async fn another_users_tasks_never_appear_in_a_list() {
    let (app, _alice) = seeded().await;
    let bob = app.sign_up("bob").await;
    let Page { titles, total, .. } = page(&bob, "").await;
    assert_eq!((titles.len(), total), (0, 0));
}

#[tokio::test]
async fn each_filter_narrows_the_list_and_the_total() {
    let (_app, alice) = seeded().await;
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
        let Page { titles, total, .. } = page(&alice, query).await;
        assert_eq!(titles, *expected, "{query}");
        assert_eq!(total, expected.len() as i64, "{query}");
    }
}

#[tokio::test]
async fn each_sort_orders_as_documented() {
    let (_app, alice) = seeded().await;
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
        assert_eq!(page(&alice, query).await.titles, *expected, "{query}");
    }
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter() {
    let (_app, alice) = seeded().await;
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
        let problem = alice.list_tasks().query(query).expect_problem(422).await;
        assert_eq!(problem.fields(), [field], "{query}: {problem:?}");
    }
}

#[tokio::test]
async fn pages_cover_every_task_once_even_with_inserts_in_between() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for i in 0..23 {
        let priority = ["High", "Medium", "Low"][i % 3];
        alice
            .new_task(json!({"title": format!("task {i:02}"), "priority": priority}))
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
            let Page {
                titles,
                total,
                next,
            } = page(&alice, &query).await;
            assert!(titles.len() <= 5);
            seen.extend(titles);
            pages += 1;
            // A task created while paging sorts before the cursor (newest) or is simply not
            // reached twice; either way nothing already seen repeats and nothing is skipped.
            if pages == 2 && sort.is_empty() {
                alice.add_task("late arrival").await;
                assert_eq!(total, 23);
            }
            match next {
                Some(next) => query = next,
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
    let (_app, alice) = seeded().await;
    let first = alice
        .list_tasks()
        .query("priority=High&limit=1")
        .header("prefer", "count=exact")
        .expect(200)
        .await;
    assert_eq!((first.tasks().len(), first.total()), (1, 2));
    let link = first.header("link").unwrap();
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    let query = first.next_query().unwrap();
    assert!(
        query.contains("priority=High") && query.contains("limit=1"),
        "{query}"
    );
    let last = page(&alice, &query).await;
    assert_eq!(last.titles, ["Buy milk"]);
    assert_eq!(last.next, None);
}

#[tokio::test]
async fn a_cursor_continues_the_listing_it_came_from_whatever_sort_is_asked_alongside() {
    let (_app, alice) = seeded().await;
    let query = page(&alice, "priority=High&limit=1").await.next.unwrap();
    let titles = page(&alice, &format!("{query}&sort=title&order=desc"))
        .await
        .titles;
    assert_eq!(titles, ["Buy milk"]);
}

#[tokio::test]
async fn the_list_etag_answers_304_while_nothing_changed() {
    let (_app, alice) = seeded().await;
    let etag = alice.list_tasks().expect(200).await.etag();
    alice.list_tasks().if_none_match(&etag).expect(304).await;
}

#[tokio::test]
async fn a_create_changes_the_list_etag() {
    let (_app, alice) = seeded().await;
    let etag = alice.list_tasks().send().await.etag();
    alice.add_task("new").await;
    alice.list_tasks().if_none_match(&etag).expect(200).await;
}

#[tokio::test]
async fn an_update_changes_the_list_etag() {
    let (_app, alice) = seeded().await;
    let listed = alice.list_tasks().send().await;
    let etag = listed.etag();
    let oldest = listed.tasks().last().unwrap().id;
    alice
        .put_task(oldest)
        .json(&json!({"title": "renamed"}))
        .expect(200)
        .await;
    alice.list_tasks().if_none_match(&etag).expect(200).await;
}

#[tokio::test]
async fn a_user_with_100_000_tasks_pages_quickly_through_the_index() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
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
    let Page {
        titles,
        total,
        next,
    } = page(&alice, "limit=50").await;
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
    let titles = page(&alice, &format!("limit=50&cursor={cursor}"))
        .await
        .titles;
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
