//! The TypeScript client in `clients/typescript`: types generated from the committed spec,
//! calls through openapi-fetch, a package that ships the client alone, and a whole session
//! against the live server.

use std::time::Duration;

use serde_json::Value;

use crate::{
    run::{npm_run, npm_run_against, run_in_typescript_client},
    support::TestApp,
};

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
fn the_typescript_package_builds_and_ships_the_client_without_its_test_scripts() {
    // `npm pack` builds first (prepack: tsc, JavaScript and declarations into dist/).
    let run = run_in_typescript_client(
        "npm",
        &["pack", "--dry-run", "--json"],
        &[],
        Duration::from_secs(180),
    );
    assert!(run.ok, "npm pack failed:\n{}", run.output);
    let json = &run.output[run.output.find('[').expect("npm pack --json prints a list")..];
    let packed: Value = serde_json::Deserializer::from_str(json)
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    let files: Vec<&str> = packed[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for shipped in [
        "package.json",
        "README.md",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/client.js",
        "dist/client.d.ts",
        "dist/sync.js",
        "dist/sse.js",
        "dist/schema.d.ts",
    ] {
        assert!(
            files.contains(&shipped),
            "{shipped} is not in the package: {files:?}"
        );
    }
    assert!(
        files
            .iter()
            .all(|f| !f.starts_with("test/") && !f.contains("e2e")),
        "the test scripts are published: {files:?}"
    );
    // The package's own name resolves, through `exports`, to what was built.
    let import = run_in_typescript_client(
        "node",
        &[
            "--input-type=module",
            "-e",
            "const m = await import('todo-api-client'); \
             console.log(Object.keys(m).sort().join(' '))",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert!(import.ok, "{}", import.output);
    for export in [
        "createTodoClient",
        "nextCursor",
        "taskPages",
        "UnauthorizedError",
        "createReplica",
        "sync",
        "subscribe",
        "SseParser",
    ] {
        assert!(
            import.output.contains(export),
            "{export}: {}",
            import.output
        );
    }
}

#[tokio::test]
async fn the_typescript_client_goes_through_a_whole_session_against_the_live_server() {
    let app = TestApp::spawn().await;
    let run = npm_run_against(&app, "e2e", &[]).await;
    assert!(run.ok, "the end-to-end script failed:\n{}", run.output);
    let checks = run.checks();
    assert_eq!(checks.len(), 10, "one line per step:\n{}", run.output);
    assert!(checks[8].starts_with("ok - logout: 204"), "{}", run.output);
    assert!(
        checks[9].starts_with("ok - onUnauthorized: the revoked token's 401"),
        "{}",
        run.output
    );
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
