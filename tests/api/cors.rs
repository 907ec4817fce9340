//! Browsers: CORS for the configured origins only, and a spec Swagger UI can prefill.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Reply, TestApp, TestDb};

const FRONTEND: &str = "http://localhost:3000";

/// The comma-separated value of `name`, lower-cased, or "" when absent.
fn list(reply: &Reply, name: &str) -> String {
    reply.header(name).unwrap_or_default().to_ascii_lowercase()
}

#[tokio::test]
async fn a_preflight_from_the_frontend_allows_bearer_writes_with_if_match() {
    let app = TestApp::spawn().await;
    let reply = app
        .request(Method::OPTIONS, "/api/1/tasks/1")
        .origin(FRONTEND)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization, content-type, if-match, prefer",
        )
        .send()
        .await;
    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(reply.header("access-control-allow-origin"), Some(FRONTEND));
    let methods = list(&reply, "access-control-allow-methods");
    for needed in ["put", "patch", "delete"] {
        assert!(methods.contains(needed), "{needed} not in {methods}");
    }
    let headers = list(&reply, "access-control-allow-headers");
    for needed in ["authorization", "content-type", "if-match", "prefer"] {
        assert!(headers.contains(needed), "{needed} not in {headers}");
    }
}

#[tokio::test]
async fn responses_to_the_frontend_expose_the_headers_clients_read() {
    let app = TestApp::spawn().await;
    let reply = app.get("/health/live").origin(FRONTEND).send().await;
    assert_eq!(reply.header("access-control-allow-origin"), Some(FRONTEND));
    let exposed = list(&reply, "access-control-expose-headers");
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
async fn another_origin_gets_no_cors_headers_on_a_preflight_or_a_simple_request() {
    let app = TestApp::spawn().await;
    let evil = "https://evil.example";
    let preflight = app
        .request(Method::OPTIONS, "/api/1/tasks")
        .origin(evil)
        .header("access-control-request-method", "GET");
    let simple = app.get("/health/live").origin(evil);
    for (what, call) in [("preflight", preflight), ("simple", simple)] {
        let reply = call.send().await;
        assert_eq!(reply.header("access-control-allow-origin"), None, "{what}");
    }
}

#[tokio::test]
async fn cors_allowed_origins_is_a_comma_separated_list() {
    let db = TestDb::create().await;
    let app = TestApp::spawn_on(
        db,
        &[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:5173",
        )],
    )
    .await;
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("http://localhost:5173", true),
        (FRONTEND, false),
    ] {
        let reply = app.get("/health/live").origin(origin).send().await;
        let expected = allowed.then_some(origin);
        assert_eq!(reply.header("access-control-allow-origin"), expected);
    }
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
}

#[test]
fn every_operation_has_an_id_and_a_summary() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(op["summary"].is_string(), "{method} {path}");
        }
    }
}
