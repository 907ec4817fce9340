//! The committed OpenAPI document is the one the code generates, and what generated clients
//! read from it.

use serde_json::Value;

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

#[test]
fn every_task_field_is_required_so_generated_clients_see_null_not_undefined() {
    let spec: Value = serde_json::from_str(&todo_api::api::spec_json()).unwrap();
    let task = &spec["components"]["schemas"]["Task"];
    let required: Vec<&str> = task["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (name, schema) in task["properties"].as_object().unwrap() {
        assert!(required.contains(&name.as_str()), "Task.{name} is optional");
        let nullable = schema["nullable"] == true;
        let may_be_null = [
            "description",
            "due_date",
            "tags",
            "recursion_pattern",
            "completed_at",
        ];
        assert_eq!(
            nullable,
            may_be_null.contains(&name.as_str()),
            "Task.{name}"
        );
    }
}
