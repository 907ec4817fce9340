//! Running the clients' tools: a program in a client's directory, killed with everything it
//! started when it overruns, its output kept for the failure message.

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use crate::support::TestApp;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn typescript_dir() -> PathBuf {
    repo().join("clients/typescript")
}

pub fn python_dir() -> PathBuf {
    repo().join("clients/python")
}

/// Where the browser test leaves its screenshot (`scripts/test` names it at the end).
pub fn screenshot_path() -> PathBuf {
    repo().join("target/artifacts/swagger-ui.png")
}

/// What a program printed (stdout and stderr together), and whether it exited with 0.
pub struct Run {
    pub ok: bool,
    pub output: String,
}

impl Run {
    /// The `ok - …` lines the end-to-end scripts print, one per step.
    pub fn checks(&self) -> Vec<&str> {
        self.output
            .lines()
            .filter(|l| l.starts_with("ok - "))
            .collect()
    }
}

/// `program args…` in `dir` with `env` added, killed (with everything it started) after
/// `timeout`.
pub fn run(
    program: &Path,
    args: &[&str],
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Run {
    // A file rather than a pipe: nothing blocks on a full buffer while we wait.
    let mut log = tempfile::tempfile().unwrap();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log.try_clone().unwrap());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    // The process group has the child's id: it can be killed while a thread waits for it.
    let group = format!("-{}", child.id());
    let (exited, exit) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    let status = match exit.recv_timeout(timeout) {
        Ok(status) => Some(status.unwrap()),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = exit.recv();
            None
        }
    };
    let mut output = String::new();
    std::io::Seek::rewind(&mut log).unwrap();
    log.read_to_string(&mut output).unwrap();
    if status.is_none() {
        output.push_str(&format!("\n(killed after {timeout:?})"));
    }
    eprintln!("--- {} {} ---\n{output}", program.display(), args.join(" "));
    Run {
        ok: status.is_some_and(|s| s.success()),
        output,
    }
}

/// `program args…` in the TypeScript client's directory, its packages installed.
pub fn run_in_typescript_client(
    program: &str,
    args: &[&str],
    env: &[(String, String)],
    timeout: Duration,
) -> Run {
    let dir = typescript_dir();
    assert!(
        dir.join("node_modules/.bin/tsc").is_file(),
        "{}/node_modules is missing or incomplete: run scripts/test, which runs `npm ci` there",
        dir.display()
    );
    run(Path::new(program), args, &dir, env, timeout)
}

/// `npm run --silent <script>` in the TypeScript client's directory.
pub fn npm_run(script: &str, env: &[(String, String)], timeout: Duration) -> Run {
    run_in_typescript_client("npm", &["run", "--silent", script], env, timeout)
}

/// `python <args…>` with the venv's Python, in the Python client's directory.
pub fn python_run(args: &[&str], env: &[(String, String)], timeout: Duration) -> Run {
    let python = repo().join("target/python-venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/test, which builds the venv with the Python client's pinned \
         tools (scripts/clients.sh)",
        python.display()
    );
    run(&python, args, &python_dir(), env, timeout)
}

/// One of those, off the async runtime so that the test's server keeps serving meanwhile,
/// with `TODO_API_URL` naming the server.
pub async fn run_against(
    app: &TestApp,
    env: &[(&str, &str)],
    runner: impl FnOnce(&[(String, String)]) -> Run + Send + 'static,
) -> Run {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push(("TODO_API_URL".into(), app.url("")));
    tokio::task::spawn_blocking(move || runner(&env))
        .await
        .unwrap()
}

/// `npm run <script>` against the server.
pub async fn npm_run_against(app: &TestApp, script: &str, env: &[(&str, &str)]) -> Run {
    let script = script.to_owned();
    run_against(app, env, move |env| {
        npm_run(&script, env, Duration::from_secs(180))
    })
    .await
}
