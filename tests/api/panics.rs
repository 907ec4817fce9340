//! A panicking handler still answers: a 500 problem naming the request id, with the CORS
//! headers and the request id header every other answer has.

use poem::{Endpoint, Request, Route, get, handler, http::Method};

#[handler]
fn explode() -> &'static str {
    panic!("a bug in a handler")
}

#[tokio::test]
async fn a_panic_is_a_500_problem_with_the_request_id_and_cors_headers() {
    let app = todo_api::api::edges(
        Route::new().at("/boom", get(explode)),
        todo_api::api::route_index(),
        &["http://localhost:3000".to_owned()],
        todo_api::api::client::TrustedProxies::default(),
    );
    let request = Request::builder()
        .method(Method::GET)
        .uri_str("/boom")
        .header("origin", "http://localhost:3000")
        .header("x-request-id", "req-42")
        .finish();
    let response = app.get_response(request).await;
    assert_eq!(response.status(), 500);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(headers["x-request-id"], "req-42");
    let body: serde_json::Value =
        serde_json::from_slice(&response.into_body().into_bytes().await.unwrap()).unwrap();
    assert_eq!(body["status"], 500);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("req-42"), "{detail}");
    assert!(
        !detail.contains("a bug in a handler"),
        "internals leaked: {detail}"
    );
}
