//! Frontends: the TypeScript client in `clients/typescript` (types generated from the
//! committed spec, calls through openapi-fetch) and Swagger UI in headless Chromium, each
//! run against the real server. `scripts/test` installs their packages; without them these
//! tests fail rather than skip.

use std::{
    fs::File,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::helpers::TestApp;

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/typescript")
}

/// What a script printed (stdout and stderr together), and whether it exited with 0.
struct Run {
    ok: bool,
    output: String,
}

/// `npm run --silent <script>` in the client's directory with `env` added, killed (with
/// everything it started) after `timeout`.
fn npm_run(script: &str, env: &[(String, String)], timeout: Duration) -> Run {
    let dir = client_dir();
    assert!(
        dir.join("node_modules/.bin/tsc").is_file(),
        "{}/node_modules is missing or incomplete: run scripts/test, which runs `npm ci` there",
        dir.display()
    );
    // A file rather than a pipe: nothing blocks on a full buffer while we wait.
    let mut log = tempfile::tempfile().unwrap();
    let mut cmd = Command::new("npm");
    cmd.args(["run", "--silent", script])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log.try_clone().unwrap());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("npm must be installed (scripts/test installs it)");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut output = String::new();
    std::io::Seek::rewind(&mut log).unwrap();
    log.read_to_string(&mut output).unwrap();
    if status.is_none() {
        output.push_str(&format!("\n(killed after {timeout:?})"));
    }
    eprintln!("--- npm run {script} ---\n{output}");
    Run {
        ok: status.is_some_and(|s| s.success()),
        output,
    }
}

/// The same, off the async runtime, so the test's server keeps serving meanwhile.
async fn npm_run_against(app: &TestApp, script: &str, env: &[(&str, &str)]) -> Run {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push(("TODO_API_URL".into(), app.url("")));
    let script = script.to_owned();
    tokio::task::spawn_blocking(move || npm_run(&script, &env, Duration::from_secs(180)))
        .await
        .unwrap()
}

fn checks(output: &str) -> Vec<&str> {
    output.lines().filter(|l| l.starts_with("ok - ")).collect()
}

#[test]
fn the_committed_typescript_types_are_generated_from_the_committed_spec() {
    let run = npm_run("check-generated", &[], Duration::from_secs(120));
    assert!(
        run.ok,
        "clients/typescript/src/schema.d.ts is out of date: run `npm run generate` in \
         clients/typescript\n{}",
        run.output
    );
}

#[test]
fn the_typescript_client_and_its_scripts_type_check() {
    let run = npm_run("typecheck", &[], Duration::from_secs(180));
    assert!(run.ok, "tsc --noEmit failed:\n{}", run.output);
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

#[tokio::test]
async fn the_typescript_client_goes_through_a_whole_session_against_the_live_server() {
    let app = TestApp::spawn().await;
    let run = npm_run_against(&app, "e2e", &[]).await;
    assert!(run.ok, "the end-to-end script failed:\n{}", run.output);
    let checks = checks(&run.output);
    assert_eq!(checks.len(), 9, "one line per step:\n{}", run.output);
    assert!(checks[8].starts_with("ok - logout: 204"), "{}", run.output);
    // What the script did is in the database, not only in its words.
    let (users, tasks): (i64, i64) = sqlx::query_as(
        r#"SELECT (SELECT count(*) FROM "user"), (SELECT count(*) FROM task WHERE NOT completed)"#,
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (users, tasks),
        (1, 5),
        "four batch tasks and one next occurrence"
    );
}

#[tokio::test]
async fn swagger_ui_in_chromium_authorizes_and_lists_the_users_tasks() {
    let app = TestApp::spawn().await;
    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts/swagger-ui.png");
    let _ = std::fs::remove_file(&screenshot);
    let run = npm_run_against(
        &app,
        "swagger-ui",
        &[("SCREENSHOT", screenshot.to_str().unwrap())],
    )
    .await;
    assert!(run.ok, "Swagger UI in Chromium failed:\n{}", run.output);
    assert!(
        run.output
            .contains("ok - Execute: the page shows 200 and a body with"),
        "{}",
        run.output
    );
    let mut magic = [0u8; 8];
    File::open(&screenshot)
        .and_then(|mut f| f.read_exact(&mut magic))
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", screenshot.display()));
    assert_eq!(&magic, b"\x89PNG\r\n\x1a\n", "{}", screenshot.display());
    eprintln!("Swagger UI screenshot: {}", screenshot.display());
}
