//! The services the fault suite breaks on purpose, each its own process on a free port, so the
//! machine's shared PostgreSQL and Redis are never touched: a PostgreSQL cluster (`initdb` +
//! `pg_ctl`), a `redis-server` with append-only persistence (as in docker-compose.yml), and the
//! tansu broker on its `SQLite` storage engine (its data survives a restart).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::BoxError;
use crate::server::free_port;

fn wait_listening(port: u16, what: &str) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not listen on {port}").into());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

fn scratch_dir(name: &str) -> Result<PathBuf, BoxError> {
    let dir = std::env::temp_dir().join(format!("ticketing-faults-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// PostgreSQL's server programs (Debian keeps them out of PATH).
fn pg_program(name: &str) -> PathBuf {
    let debian = Path::new("/usr/lib/postgresql/15/bin").join(name);
    if debian.exists() { debian } else { PathBuf::from(name) }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A PostgreSQL cluster of the suite's own. PostgreSQL refuses to run as root, so under root
/// its programs run as the `postgres` user.
pub struct OwnPostgres {
    pub port: u16,
    data: PathBuf,
    as_root: bool,
}

impl OwnPostgres {
    pub fn start() -> Result<Self, BoxError> {
        let dir = scratch_dir("pg")?;
        let as_root = is_root();
        if as_root {
            Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status()?;
        }
        let pg = Self { port: free_port()?, data: dir.join("data"), as_root };
        let initdb = pg
            .command(&pg_program("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&pg.data)
            .stdout(Stdio::null())
            .status()?;
        if !initdb.success() {
            return Err("initdb failed".into());
        }
        pg.resume()?;
        Ok(pg)
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port.
    pub fn resume(&self) -> Result<(), BoxError> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200 \
             -c shared_buffers=128MB",
            self.port
        );
        let log = self.data.parent().unwrap_or(&self.data).join("server.log");
        let started = self
            .command(&pg_program("pg_ctl"))
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.data)
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(log)
            .stdout(Stdio::null())
            .status()?;
        if !started.success() {
            return Err("pg_ctl start failed".into());
        }
        wait_listening(self.port, "PostgreSQL")
    }

    /// Stops the server the hard way: every backend killed, recovery from the WAL on the next
    /// start (what a crash or an OOM kill does).
    pub fn crash(&self) -> Result<(), BoxError> {
        let stopped = self
            .command(&pg_program("pg_ctl"))
            .args(["stop", "-m", "immediate", "-w", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .status()?;
        if stopped.success() { Ok(()) } else { Err("pg_ctl stop failed".into()) }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.crash();
        if let Some(dir) = self.data.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A `redis-server` of the suite's own, persisting with an append-only file as production does.
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> Result<Self, BoxError> {
        let mut redis = Self { port: free_port()?, dir: scratch_dir("redis")?, child: None };
        redis.resume()?;
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn resume(&mut self) -> Result<(), BoxError> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        wait_listening(self.port, "redis-server")
    }

    /// SIGKILL: no chance to write anything more.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The tansu broker on its `SQLite` engine: a restart finds its topics, records and offsets.
pub struct OwnBroker {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnBroker {
    pub fn start() -> Result<Self, BoxError> {
        let mut broker = Self { port: free_port()?, dir: scratch_dir("broker")?, child: None };
        broker.resume()?;
        Ok(broker)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn resume(&mut self) -> Result<(), BoxError> {
        let tansu = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into());
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // tansu reads a sqlite URL's path relative to its working directory.
        let storage = "sqlite://tansu.db".to_owned();
        let child = Command::new(&tansu)
            .current_dir(&self.dir)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", &storage])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {tansu} ({e}); scripts/test.sh builds it (TANSU_BIN)"))?;
        self.child = Some(child);
        wait_listening(self.port, "tansu")
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
