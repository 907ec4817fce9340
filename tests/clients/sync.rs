//! Both clients' local copy of the tasks (`sync`, and the event stream: `subscribe` in
//! TypeScript, `task_events` in Python): their event-stream parsers on their own, then each
//! client against two instances on one database, writing through one and keeping its copy
//! through the other, and then with a token older than the changes the server keeps.

use std::time::Duration;

use crate::{
    run::{npm_run, npm_run_against, python_run, run_against},
    support::TestApp,
};

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

/// The instance where the copy is kept: another one on the same database, whose pages end at
/// the smallest byte budget (a few tasks), so that reading everything, and some deltas, take
/// several pages along `Link`.
async fn reader_instance(app: &TestApp) -> TestApp {
    let built = TestApp::build(&app.db, &[("LIST_PAGE_BYTES", "1024")])
        .await
        .expect("the second instance starts");
    TestApp::run(built, app.db.clone()).await
}

/// The script's six steps, in order: full sync, delta, live events, resume, a revoked
/// session, and the copy against a fresh full sync.
const STEPS: [&str; 6] = [
    "ok - first sync on B",
    "ok - sync with the token",
    "ok - a stream on B",
    "ok - stopped, three changes on A",
    "ok - B's session revoked",
    "ok - the copy kept by events equals a fresh full sync",
];

fn assert_steps(output: &str, checks: &[&str]) {
    assert_eq!(checks.len(), STEPS.len(), "one line per step:\n{output}");
    for (check, step) in checks.iter().zip(STEPS) {
        assert!(check.starts_with(step), "expected {step:?}:\n{output}");
    }
}

/// What the script left in the database: its account's tasks as the script's steps leave
/// them (four created, one deleted by the delta's step, two more created and one deleted
/// with the stream open, one more created and one deleted while away, one created while
/// logged out), and both instances' logins.
async fn assert_database(app: &TestApp) {
    let (tasks, sessions): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM task), (SELECT count(*) FROM session)")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(tasks, 5, "tasks left");
    assert_eq!(sessions, 3, "A's login, B's and B's login after its logout");
}

/// What the retention leaves after the copy was saved: one task deleted behind the servers'
/// back, then every logged change pruned as if it had passed `SYNC_RETENTION` (the horizon
/// moves past them, as pruning moves it), so the saved token is too old.
async fn prune_everything_and_delete_a_task(app: &TestApp) {
    app.sql(
        "DELETE FROM task WHERE id = (SELECT min(id) FROM task);
         WITH gone AS (DELETE FROM task_change RETURNING xid)
         UPDATE task_change_horizon
         SET pruned_through = greatest(pruned_through, (SELECT max(xid) FROM gone))",
    )
    .await;
}

fn assert_gone_steps(output: &str, checks: &[&str], stream: &str) {
    assert_eq!(checks.len(), 2, "one line per step:\n{output}");
    assert!(
        checks[0].starts_with("ok - sync with a token older than the changes kept: 410"),
        "{output}"
    );
    assert!(
        checks[1].starts_with(&format!(
            "ok - {stream} with a token older than the changes kept: 410"
        )),
        "{output}"
    );
}

#[tokio::test]
async fn the_typescript_client_keeps_its_copy_in_sync_across_two_instances() {
    let app = TestApp::spawn().await;
    let other = reader_instance(&app).await;
    let b = other.url("");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let env = [
        ("TODO_API_URL_B", b.as_str()),
        ("SYNC_STATE", state.to_str().unwrap()),
    ];
    let run = npm_run_against(&app, "sync", &env).await;
    assert!(run.ok, "the sync script failed:\n{}", run.output);
    assert_steps(&run.output, &run.checks());
    assert_database(&app).await;

    prune_everything_and_delete_a_task(&app).await;
    let run = npm_run_against(&app, "sync-gone", &env).await;
    assert!(run.ok, "the sync-gone script failed:\n{}", run.output);
    assert_gone_steps(&run.output, &run.checks(), "subscribe");
}

#[tokio::test]
async fn the_python_client_keeps_its_copy_in_sync_across_two_instances() {
    let app = TestApp::spawn().await;
    let other = reader_instance(&app).await;
    let b = other.url("");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let env = [
        ("TODO_API_URL_B", b.as_str()),
        ("SYNC_STATE", state.to_str().unwrap()),
    ];
    let run = run_against(&app, &env, |env| {
        python_run(&["tests/sync_e2e.py"], env, Duration::from_secs(180))
    })
    .await;
    assert!(run.ok, "the Python sync script failed:\n{}", run.output);
    assert_steps(&run.output, &run.checks());
    assert_database(&app).await;

    prune_everything_and_delete_a_task(&app).await;
    let run = run_against(&app, &env, |env| {
        python_run(&["tests/sync_gone.py"], env, Duration::from_secs(180))
    })
    .await;
    assert!(
        run.ok,
        "the Python sync_gone script failed:\n{}",
        run.output
    );
    assert_gone_steps(&run.output, &run.checks(), "task_events");
}
