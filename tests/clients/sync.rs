//! Both clients' local copy of the tasks (`sync`, and the event stream: `subscribe` in
//! TypeScript, `task_events` in Python): their event-stream parsers on their own, then each
//! client against two instances on one database, writing through one and keeping its copy
//! through the other.

use std::time::Duration;

use crate::run::{npm_run, python_run};

#[test]
fn the_typescript_event_stream_parser_passes_its_unit_tests() {
    let run = npm_run("test", &[], Duration::from_secs(120));
    assert!(run.ok, "npm test failed:\n{}", run.output);
    assert!(run.output.contains("# fail 0"), "{}", run.output);
}

#[test]
fn the_python_event_stream_parser_passes_its_unit_tests() {
    let run = python_run(
        &["-m", "unittest", "discover", "-s", "tests", "-v"],
        &[],
        Duration::from_secs(60),
    );
    assert!(run.ok, "the unit tests failed:\n{}", run.output);
    assert!(run.output.contains("\nOK"), "{}", run.output);
}
