//! The list counts its matches only when asked: `Prefer: count=exact` (PostgREST's
//! convention) gives `X-Total-Count` and `Preference-Applied`.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_total_comes_only_with_prefer_count_exact_and_says_it_was_applied() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for n in 0..3 {
        alice
            .new_task(json!({"title": format!("task {n}"), "priority": "High"}))
            .await;
    }
    alice
        .new_task(json!({"title": "low", "priority": "Low"}))
        .await;
    let page = || alice.list_tasks().query("priority=High&limit=2");

    let plain = page().expect(200).await;
    assert_eq!(plain.header("x-total-count"), None);
    assert_eq!(plain.header("preference-applied"), None);
    assert!(plain.header("link").is_some());
    assert_eq!(plain.tasks().len(), 2);

    for prefer in [
        "count=exact",
        "return=representation, count=exact",
        "Count=\"Exact\"",
    ] {
        let counted = page().header("prefer", prefer).expect(200).await;
        assert_eq!(counted.total(), 3, "{prefer}");
        assert_eq!(counted.header("preference-applied"), Some("count=exact"));
        assert_eq!(counted.tasks(), plain.tasks());
        assert_ne!(counted.etag(), plain.etag());
    }

    // Preferences the server does not know are ignored, as RFC 7240 says.
    let other = page().header("prefer", "count=planned").expect(200).await;
    assert_eq!(other.header("x-total-count"), None);
    assert_eq!(other.header("preference-applied"), None);
}

#[tokio::test]
async fn an_empty_page_after_a_cursor_still_counts_when_asked() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    alice.add_task("older").await;
    let newer = alice.add_task("newer").await;
    let first = alice
        .list_tasks()
        .query("sort=created_at&order=asc&limit=1")
        .expect(200)
        .await;
    let next = first.next_query().unwrap();
    // The page the cursor points at empties before it is read.
    alice.delete_task(newer.id).expect(204).await;
    let empty = alice
        .list_tasks()
        .query(&next)
        .header("prefer", "count=exact")
        .expect(200)
        .await;
    assert!(empty.tasks().is_empty());
    assert_eq!(empty.total(), 1);
    assert_eq!(empty.header("link"), None);
}

#[test]
fn the_spec_documents_prefer_and_the_headers_it_brings() {
    let spec: serde_json::Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let list = &spec["paths"]["/api/{user_id}/tasks"]["get"];
    let params = list["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "Prefer" && p["in"] == "header"),
        "{params:?}"
    );
    // poem-openapi writes header names in capitals; absent `required` means optional.
    let headers = &list["responses"]["200"]["headers"];
    for name in ["X-TOTAL-COUNT", "PREFERENCE-APPLIED"] {
        assert!(headers[name].is_object(), "{name} in {headers}");
        assert_ne!(headers[name]["required"], true, "{name} in {headers}");
    }
}
