//! The committed OpenAPI document is the one the code generates.

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let committed = include_str!("../../openapi/openapi.json");
    let generated = todo_api::api::spec_json();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is out of date: regenerate it with\n\n    \
         cargo run --quiet -- openapi > openapi/openapi.json\n"
    );
}
