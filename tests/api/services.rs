//! Private PostgreSQL, MariaDB and Redis servers for fault tests: started on spare loopback
//! ports in temporary directories, so that tests can stop and restart them without touching
//! the machine's shared services. Each is stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flowrex_infrastructure::test_support::{spare_port, wait_for_port};
use tempfile::TempDir;

/// How long a server may take to listen after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL cluster of its own (initdb + pg_ctl), trust authentication.
pub struct PrivatePostgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Creates and starts a cluster.
    pub fn start() -> Self {
        let bin = postgres_bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let postgres = Self {
            dir,
            bin,
            port: spare_port(),
        };
        if is_root() {
            // PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(postgres.dir.path()));
        }
        run(&mut postgres.as_owner(
            "initdb",
            &[
                "-D",
                &postgres.data().display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        ));
        postgres.resume();
        postgres
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_owner(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.args(args).stdin(Stdio::null());
        command
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        run(&mut self.as_owner(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        ));
        wait_for_port(self.port, "PostgreSQL", START_TIMEOUT);
    }

    /// Stops the server: `Stop::Gentle` is `pg_ctl stop -m fast`, what a restart or a
    /// failover does (every session gets `57P01 terminating connection due to administrator
    /// command`); `Stop::Kill` is `-m immediate`, as a crash would (connections are cut).
    pub fn stop(&self, mode: Stop) {
        let mode = match mode {
            Stop::Gentle => "fast",
            Stop::Kill => "immediate",
        };
        run(&mut self.as_owner(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                mode,
                "-w",
                "stop",
            ],
        ));
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .as_owner(
                "pg_ctl",
                &[
                    "-D",
                    &self.data().display().to_string(),
                    "-m",
                    "immediate",
                    "stop",
                ],
            )
            .output();
    }
}

fn postgres_bin_dir() -> PathBuf {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").is_file() {
            return dir;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .filter(|dir| Path::new(dir).join("initdb").is_file())
        .expect("no PostgreSQL server binaries (initdb) found")
}

/// How a database server goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The normal stop of a restart: connections are told, then closed.
    Gentle,
    /// Killed: connections are cut without a word.
    Kill,
}

/// A MariaDB server of its own (`mariadb-install-db` + `mariadbd`), `root` without a
/// password, database `flowrex`.
pub struct PrivateMariaDb {
    dir: TempDir,
    port: u16,
    child: std::sync::Mutex<Option<Child>>,
}

impl PrivateMariaDb {
    /// Creates a data directory and starts the server on it.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .stdin(Stdio::null()));
        let mariadb = Self {
            dir,
            port: spare_port(),
            child: std::sync::Mutex::new(None),
        };
        mariadb.resume();
        run(Command::new("mariadb")
            .args(["-h127.0.0.1", "-uroot"])
            .arg(format!("-P{}", mariadb.port))
            .args(["-e", "CREATE DATABASE IF NOT EXISTS flowrex"]));
        mariadb
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn resume(&self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!(
                "--datadir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!(
                "--socket={}",
                self.dir.path().join("sock").display()
            ))
            .arg(format!("--port={}", self.port))
            .args([
                "--user=root",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                // Written to the OS at each commit: safe when the process is killed.
                "--innodb-flush-log-at-trx-commit=2",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mariadbd");
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        wait_for_port(self.port, "MariaDB", START_TIMEOUT);
    }

    /// Stops the server: `Stop::Gentle` is `mariadb-admin shutdown` (what a restart does);
    /// `Stop::Kill` is SIGKILL.
    pub fn stop(&self, mode: Stop) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut process) = child.take() else {
            return;
        };
        match mode {
            Stop::Gentle => run(Command::new("mariadb-admin")
                .args(["-h127.0.0.1", "-uroot"])
                .arg(format!("-P{}", self.port))
                .arg("shutdown")),
            Stop::Kill => {
                let _ = process.kill();
            }
        }
        let _ = process.wait();
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/flowrex", self.port)
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        if let Some(mut process) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// A Redis server of its own, keeping nothing on disk.
pub struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts a server.
    pub fn start() -> Self {
        let mut redis = Self {
            port: spare_port(),
            child: None,
        };
        redis.resume();
        redis
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        wait_for_port(self.port, "Redis", START_TIMEOUT);
    }

    /// Kills the server.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether a key starting with `prefix` exists in it.
    pub fn has_key_starting_with(&self, prefix: &str) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--scan", "--pattern"])
            .arg(format!("{prefix}*"))
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
