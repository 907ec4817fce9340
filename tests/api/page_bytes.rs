//! A list page is bounded in bytes (`LIST_PAGE_BYTES`) whatever its tasks hold: it ends early
//! where the next task would pass the budget, and its `Link` leads to the rest.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{TestApp, TestDb, User};

const BUDGET: usize = 16 * 1024;

async fn app() -> (TestApp, User) {
    let budget = BUDGET.to_string();
    let app = TestApp::spawn_on(TestDb::create().await, &[("LIST_PAGE_BYTES", &budget)]).await;
    let alice = app.sign_up("alice").await;
    (app, alice)
}

/// Every page from `query` on by the server's `Link`: each page's body size and task ids.
async fn pages(alice: &User, query: &str) -> Vec<(usize, Vec<i64>)> {
    let mut pages = Vec::new();
    let mut next = Some(query.to_owned());
    while let Some(query) = next {
        let page = alice.list_tasks().query(&query).expect(200).await;
        let ids = page.tasks().iter().map(|t| t.id).collect();
        pages.push((page.text().len(), ids));
        next = page.next_query();
        assert!(pages.len() <= 100, "the walk does not end");
    }
    pages
}

#[tokio::test]
async fn a_page_ends_at_the_byte_budget_and_its_link_leads_to_every_other_task() {
    let (_app, alice) = app().await;
    let mut created = HashSet::new();
    for n in 0..30 {
        let task = alice
            .new_task(json!({"title": format!("task {n}"), "description": "d".repeat(2000)}))
            .await;
        created.insert(task.id);
    }
    let pages = pages(&alice, "").await;
    assert!(pages.len() > 1, "30 tasks of 2 kB do not fit in 16 KiB");
    for (bytes, ids) in &pages {
        assert!(*bytes <= BUDGET, "a page of {bytes} bytes");
        assert!(!ids.is_empty());
    }
    let walked: Vec<i64> = pages.into_iter().flat_map(|(_, ids)| ids).collect();
    assert_eq!(walked.len(), 30, "no task twice");
    assert_eq!(walked.into_iter().collect::<HashSet<_>>(), created);
}

#[tokio::test]
async fn a_task_larger_than_the_budget_still_gets_a_page_of_its_own() {
    let (_app, alice) = app().await;
    // 5 000 control characters: each is written as six bytes of JSON.
    let huge = "\u{1}".repeat(5000);
    for n in 0..3 {
        alice
            .new_task(json!({"title": format!("huge {n}"), "description": huge}))
            .await;
    }
    let pages = pages(&alice, "").await;
    assert_eq!(pages.len(), 3);
    assert!(
        pages
            .iter()
            .all(|(bytes, ids)| ids.len() == 1 && *bytes > BUDGET)
    );
}
