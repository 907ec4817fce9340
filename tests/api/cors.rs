//! Browsers: CORS for the configured origins only, and a spec Swagger UI can prefill.

use serde_json::Value;

use crate::helpers::TestApp;

const FRONTEND: &str = "http://localhost:3000";

#[tokio::test]
async fn a_preflight_from_the_frontend_allows_bearer_writes_with_if_match() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/1/tasks/1"))
        .header("origin", FRONTEND)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization, content-type, if-match, prefer",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], FRONTEND);
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(
        methods.contains("PUT") && methods.contains("PATCH") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for needed in ["authorization", "content-type", "if-match", "prefer"] {
        assert!(headers.contains(needed), "{needed} not in {headers}");
    }
}

#[tokio::test]
async fn responses_to_the_frontend_expose_the_headers_clients_read() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("origin", FRONTEND)
        .send()
        .await
        .unwrap();
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], FRONTEND);
    let exposed = h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "etag",
        "location",
        "link",
        "x-total-count",
        "preference-applied",
        "retry-after",
        "x-request-id",
    ] {
        assert!(exposed.contains(header), "{header} not in {exposed}");
    }
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers() {
    let app = TestApp::spawn().await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/1/tasks"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let simple = app
        .client
        .get(app.url("/health/live"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn cors_allowed_origins_is_a_comma_separated_list() {
    let db = crate::helpers::TestDb::create().await;
    let app = TestApp::spawn_on(
        db,
        &[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:5173",
        )],
    )
    .await;
    for origin in ["https://app.example.com", "http://localhost:5173"] {
        let r = app
            .client
            .get(app.url("/health/live"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    let r = app
        .client
        .get(app.url("/health/live"))
        .header("origin", FRONTEND)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn every_object_schema_has_an_example_for_swagger_ui() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let missing: Vec<&String> = schemas
        .iter()
        .filter(|(_, s)| s["type"] == "object" && s.get("example").is_none())
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "schemas without an example: {missing:?}"
    );
    // Every operation has an id and a summary.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(op["summary"].is_string(), "{method} {path}");
        }
    }
}
