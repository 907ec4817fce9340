//! Throwaway PostgreSQL clusters (and a PgBouncer) of the tests' own, made from the system's
//! binaries, so faults can be injected without touching any shared server.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::support::wait_until;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool as the cluster's owner (initdb refuses to run as root).
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries are installed (scripts/test installs them)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(mut cmd: Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A directory the cluster's owner may write to, removed on drop.
pub fn owned_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("todo-api-fault-")
        .tempdir()
        .unwrap();
    if is_root() {
        run({
            let mut c = Command::new("chown");
            c.args(["postgres:postgres"]).arg(dir.path());
            c
        });
    }
    dir
}

pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
    settings: Vec<String>,
}

impl Cluster {
    /// initdb (trust authentication) and start, with extra `name=value` settings.
    pub fn start(settings: &[&str]) -> Self {
        Self::start_with_auth("trust", settings)
    }

    /// As [`start`](Self::start), with `host_auth` (e.g. `scram-sha-256`) for TCP
    /// connections; the Unix socket, which the tests' own admin commands use, stays trusted.
    pub fn start_with_auth(host_auth: &str, settings: &[&str]) -> Self {
        let dir = owned_tempdir();
        let mut initdb = as_owner(&pg_bin().join("initdb"));
        initdb
            .arg("-D")
            .arg(dir.path().join("data"))
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .arg(format!("--auth-host={host_auth}"));
        run(initdb);
        let cluster = Self {
            dir,
            port: free_port(),
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
        };
        cluster.resume();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`, or another host name and database.
    pub fn url(&self, host: &str, database: &str) -> String {
        format!("postgres://postgres@{host}:{}/{database}", self.port)
    }

    fn pg_ctl(&self) -> Command {
        let mut cmd = as_owner(&pg_bin().join("pg_ctl"));
        cmd.arg("-D").arg(self.dir.path().join("data"));
        cmd
    }

    /// Starts (again), waiting until it accepts connections.
    pub fn resume(&self) {
        let mut opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        for s in &self.settings {
            opts.push_str(&format!(" -c {s}"));
        }
        let mut cmd = self.pg_ctl();
        cmd.args(["-w", "-t", "60", "-o", &opts, "-l"])
            .arg(self.dir.path().join("server.log"))
            .arg("start");
        run(cmd);
    }

    /// A fast shutdown: open sessions are terminated (57P01), as on a restart.
    pub fn halt(&self) {
        let mut cmd = self.pg_ctl();
        cmd.args(["-w", "-m", "fast", "stop"]);
        run(cmd);
    }

    pub fn createdb(&self, name: &str) {
        let mut cmd = as_owner(&pg_bin().join("createdb"));
        cmd.arg("-h").arg(self.dir.path()).args([
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            name,
        ]);
        run(cmd);
    }

    /// Runs SQL as the superuser over the Unix socket.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut cmd = as_owner(&pg_bin().join("psql"));
        cmd.arg("-h")
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-Atqc", sql]);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut cmd = self.pg_ctl();
        cmd.args(["-m", "immediate", "stop"]);
        let _ = cmd.output();
    }
}

/// PgBouncer in transaction mode in front of `cluster`, with a server pool of 2.
pub struct Bouncer {
    _dir: tempfile::TempDir,
    child: std::process::Child,
    pub port: u16,
}

impl Bouncer {
    pub async fn start(cluster: &Cluster, database: &str) -> Self {
        let dir = owned_tempdir();
        let port = free_port();
        let ini = format!(
            "[databases]\n{database} = host=127.0.0.1 port={} dbname={database}\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n\
             auth_file = {dir}/users.txt\npool_mode = transaction\ndefault_pool_size = 2\n\
             max_client_conn = 200\nignore_startup_parameters = extra_float_digits\n\
             unix_socket_dir =\nlogfile = {dir}/pgbouncer.log\n",
            cluster.port,
            dir = dir.path().display()
        );
        std::fs::write(dir.path().join("pgbouncer.ini"), ini).unwrap();
        std::fs::write(dir.path().join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        if is_root() {
            let mut c = Command::new("chown");
            c.args(["-R", "postgres:postgres"]).arg(dir.path());
            run(c);
        }
        let mut cmd = Command::new("/usr/sbin/pgbouncer");
        if is_root() {
            // PgBouncer refuses to run as root; -u makes it drop to the cluster's owner.
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(dir.path().join("pgbouncer.ini"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pgbouncer is installed (scripts/test installs it)");
        wait_until("PgBouncer to listen", Duration::from_secs(10), async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        Self {
            _dir: dir,
            child,
            port,
        }
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
