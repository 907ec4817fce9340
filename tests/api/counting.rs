//! The list counts its matches only when asked: `Prefer: count=exact` (PostgREST's
//! convention) gives `X-Total-Count` and `Preference-Applied`.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_total_comes_only_with_prefer_count_exact_and_says_it_was_applied() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    for n in 0..3 {
        app.create_task(
            &alice,
            json!({"title": format!("task {n}"), "priority": "High"}),
        )
        .await;
    }
    app.create_task(&alice, json!({"title": "low", "priority": "Low"}))
        .await;
    let list = |prefer: Option<&'static str>| {
        let mut request = app
            .client
            .get(format!("{}?priority=High&limit=2", app.tasks_url(alice.id)))
            .bearer_auth(&alice.token);
        if let Some(prefer) = prefer {
            request = request.header("prefer", prefer);
        }
        request.send()
    };

    let plain = list(None).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("x-total-count").is_none());
    assert!(plain.headers().get("preference-applied").is_none());
    assert!(plain.headers().get("link").is_some());
    let plain_etag = plain.headers()["etag"].clone();
    assert_eq!(
        plain.json::<Vec<serde_json::Value>>().await.unwrap().len(),
        2
    );

    for prefer in ["count=exact", "return=representation, count=exact"] {
        let counted = list(Some(prefer)).await.unwrap();
        assert_eq!(counted.status(), 200);
        assert_eq!(counted.headers()["x-total-count"], "3", "{prefer}");
        assert_eq!(counted.headers()["preference-applied"], "count=exact");
        assert_ne!(counted.headers()["etag"], plain_etag);
    }

    // Preferences the server does not know are ignored, as RFC 7240 says.
    let other = list(Some("count=planned")).await.unwrap();
    assert_eq!(other.status(), 200);
    assert!(other.headers().get("x-total-count").is_none());
    assert!(other.headers().get("preference-applied").is_none());
}

#[tokio::test]
async fn an_empty_page_after_a_cursor_still_counts_when_asked() {
    let app = TestApp::spawn().await;
    let alice = app.login_user("alice").await;
    app.create_task(&alice, json!({"title": "older"})).await;
    let newer = app.create_task(&alice, json!({"title": "newer"})).await;
    let first = app
        .client
        .get(format!(
            "{}?sort=created_at&order=asc&limit=1",
            app.tasks_url(alice.id)
        ))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    // The page the cursor points at empties before it is read.
    let gone = app
        .client
        .delete(format!("{}/{}", app.tasks_url(alice.id), newer["id"]))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let empty = app
        .client
        .get(app.url(&next))
        .bearer_auth(&alice.token)
        .header("prefer", "count=exact")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 200);
    assert_eq!(empty.headers()["x-total-count"], "1");
    assert!(empty.headers().get("link").is_none());
    assert!(
        empty
            .json::<Vec<serde_json::Value>>()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_spec_documents_prefer_and_the_headers_it_brings() {
    let spec: serde_json::Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let list = &spec["paths"]["/api/{user_id}/tasks"]["get"];
    let params = list["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "Prefer" && p["in"] == "header"),
        "{params:?}"
    );
    let headers = &list["responses"]["200"]["headers"];
    // poem-openapi writes header names in capitals; absent `required` means optional.
    for name in ["X-TOTAL-COUNT", "PREFERENCE-APPLIED"] {
        assert!(headers[name].is_object(), "{name} in {headers}");
        assert_ne!(headers[name]["required"], true, "{name} in {headers}");
    }
}
