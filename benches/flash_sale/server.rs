//! What the run measures against: the release `ticketing` binary (one or two instances on the
//! same throwaway databases), a bare axum JSON handler, and `pgbench -N` on the same PostgreSQL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::client::{BoxError, Conn};

pub const ADMIN_EMAIL: &str = "organiser@bench.test";

pub fn free_port() -> Result<u16, BoxError> {
    free_ports().map(|[port]| port)
}

/// `N` distinct free ports (each listener is held until all are picked, so none comes twice).
pub fn free_ports<const N: usize>() -> Result<[u16; N], BoxError> {
    let listeners = (0..N).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<Result<Vec<_>, _>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

/// The server under test: this build's, or `BENCH_TICKETING_BIN` (another commit's release
/// build, so a before/after comparison runs the same harness against both).
fn server_binary() -> PathBuf {
    std::env::var_os("BENCH_TICKETING_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ticketing")), PathBuf::from)
}

/// Four fresh databases, a Redis prefix and a mail outbox shared by every instance of a run.
#[derive(Debug)]
pub struct Deployment {
    pub pg: String,
    pub databases: [String; 4],
    pub redis_prefix: String,
    pub outbox: PathBuf,
    pub instances: Vec<Instance>,
    /// Settings every instance gets on top of the run's own (the fault suite's own Redis,
    /// broker, hold timer).
    pub env: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Instance {
    child: Child,
    #[allow(dead_code, reason = "the fault suite (tests/faults) restarts instances on their address")]
    pub addr: SocketAddr,
    /// The operators' listener (`/metrics`).
    pub metrics: SocketAddr,
}

impl Instance {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory (KiB) and open descriptors of process `pid`, from /proc.
    pub fn footprint_of(pid: u32) -> (u64, usize) {
        let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            })
            .unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
        (rss, fds)
    }

    /// The value of the gauge `name` (no labels) on `/metrics` at `metrics`; `None` when the
    /// server does not answer or does not report it.
    #[allow(dead_code, reason = "read by the soak; the fault suite does not")]
    pub async fn gauge(metrics: SocketAddr, name: &str) -> Option<f64> {
        let mut conn = Conn::new(metrics);
        let answer = tokio::time::timeout(Duration::from_secs(5), conn.get("/metrics", None)).await.ok()?.ok()?;
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }
}

impl Deployment {
    pub fn new(pg: &str) -> Self {
        let suffix = Uuid::new_v4().simple().to_string();
        let databases = ["events", "projections", "analytics", "auth"].map(|k| format!("ticketing_flash_{k}_{suffix}"));
        let outbox = std::env::temp_dir().join(format!("ticketing-flash-mail-{suffix}"));
        Self {
            pg: pg.to_owned(),
            databases,
            redis_prefix: format!("ticketing_flash_{suffix}:"),
            outbox,
            instances: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Waits until every projector has applied the whole event log (at most `limit`): how long
    /// that took, and the events still unapplied (0 unless `limit` ran out). A scenario started
    /// while the read side is still applying the last one's events measures that backlog too.
    #[allow(dead_code, reason = "the flash-sale harness settles between scenarios; the fault suite does not")]
    pub async fn read_side_caught_up(&self, limit: Duration) -> Result<(Duration, i64), BoxError> {
        let url = |i: usize| format!("{}/{}", self.pg, self.databases[i]);
        let store = ticketing::store::EventStore::new(sqlx::PgPool::connect(&url(0)).await?);
        let (projections, analytics) = (sqlx::PgPool::connect(&url(1)).await?, sqlx::PgPool::connect(&url(2)).await?);
        let started = Instant::now();
        loop {
            let mut behind = 0;
            for (_, lag) in ticketing::projections::lags(&store, &projections, &analytics).await {
                behind += lag?;
            }
            if behind == 0 || started.elapsed() > limit {
                return Ok((started.elapsed(), behind));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts one more instance of the release binary on these databases and waits until ready.
    pub async fn start_instance(&mut self) -> Result<SocketAddr, BoxError> {
        let [port, metrics_port] = free_ports()?;
        let child = self.spawn(port, metrics_port)?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let metrics: SocketAddr = format!("127.0.0.1:{metrics_port}").parse()?;
        self.instances.push(Instance { child, addr, metrics });
        wait_ready(addr).await
    }

    /// Sends `signal` (`KILL`, `TERM`) to instance `i` and waits until it has exited.
    #[allow(dead_code, reason = "used by the fault suite (tests/faults)")]
    pub fn signal(&mut self, i: usize, signal: &str) -> Result<std::process::ExitStatus, BoxError> {
        let instance = &mut self.instances[i];
        Command::new("kill").args([&format!("-{signal}"), &instance.child.id().to_string()]).status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = instance.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!("instance {i} still running 30 s after SIG{signal}").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts instance `i` again on its own port (after [`Deployment::signal`]).
    #[allow(dead_code, reason = "used by the fault suite (tests/faults)")]
    pub async fn restart(&mut self, i: usize) -> Result<SocketAddr, BoxError> {
        let (addr, metrics) = (self.instances[i].addr, self.instances[i].metrics);
        self.instances[i].child = self.spawn(addr.port(), metrics.port())?;
        wait_ready(addr).await
    }

    fn spawn(&self, port: u16, metrics_port: u16) -> Result<Child, BoxError> {
        let url = |i: usize| format!("{}/{}", self.pg, self.databases[i]);
        let child = Command::new(server_binary())
            .arg("serve")
            .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("DATABASE_URL_EVENTS", url(0))
            .env("DATABASE_URL_PROJECTIONS", url(1))
            .env("DATABASE_URL_ANALYTICS", url(2))
            .env("DATABASE_URL_AUTH", url(3))
            .env("REDIS_PREFIX", &self.redis_prefix)
            .env("MAIL_OUTBOX_DIR", &self.outbox)
            .env("ADMIN_EMAILS", ADMIN_EMAIL)
            // Every buyer comes from its own address, as in a real on-sale: the harness is the
            // proxy that says which (the per-address sign-in limit stays on).
            .env("TRUSTED_PROXIES", "127.0.0.1/32")
            .env("WS_MAX_CONNECTIONS", "50000")
            .env("RUST_LOG", std::env::var("SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .env_remove("KAFKA_BROKERS")
            .env_remove("SMTP_URL")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .spawn()?;
        Ok(child)
    }

    pub fn stop(&mut self) {
        for instance in &mut self.instances {
            let _ = Command::new("kill").args(["-TERM", &instance.child.id().to_string()]).status();
        }
        for instance in &mut self.instances {
            let deadline = Instant::now() + Duration::from_secs(20);
            while instance.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = instance.child.kill();
            let _ = instance.child.wait();
        }
        self.instances.clear();
    }

    /// The process ids of the running instances.
    #[allow(dead_code, reason = "read by the flash sale's CPU accounting; the fault suite does not")]
    pub fn pids(&self) -> Vec<u32> {
        self.instances.iter().map(Instance::pid).collect()
    }

    /// The URL of database `i` (0 events, 1 projections, 2 analytics, 3 auth).
    #[allow(dead_code, reason = "used by the fault suite (tests/faults)")]
    pub fn url(&self, i: usize) -> String {
        format!("{}/{}", self.pg, self.databases[i])
    }

    pub fn events_url(&self) -> String {
        format!("{}/{}", self.pg, self.databases[0])
    }

    /// Drops the databases (after [`Deployment::stop`]).
    pub async fn drop_databases(&self) -> Result<(), BoxError> {
        let admin = sqlx::PgPool::connect(&format!("{}/postgres", self.pg)).await?;
        for db in &self.databases {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&admin).await?;
        }
        let _ = std::fs::remove_dir_all(&self.outbox);
        // Best effort: a Redis already stopped (the fault suite's own) has nothing to keep.
        if let Err(e) = self.drop_redis_keys().await {
            eprintln!("the run's Redis keys were not removed: {e}");
        }
        Ok(())
    }

    /// The run's Redis keys: sessions and the idempotency records of hundreds of thousands of
    /// holds, otherwise kept a day. Left behind by a few runs (2 million keys, 1.6 GB), they made
    /// Redis slow enough for the test suite's connections to time out.
    async fn drop_redis_keys(&self) -> Result<(), BoxError> {
        // The instances' Redis: the run's own setting, else theirs by default.
        let url = self
            .env
            .iter()
            .find(|(name, _)| name == "REDIS_URL")
            .map(|(_, url)| url.clone())
            .or_else(|| std::env::var("REDIS_URL").ok())
            .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
        let mut redis = redis::Client::open(url)?.get_multiplexed_async_connection().await?;
        let pattern = format!("{}*", self.redis_prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut redis)
                .await?;
            if !keys.is_empty() {
                let _: i64 = redis::cmd("UNLINK").arg(&keys).query_async(&mut redis).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.stop();
    }
}

/// This bench binary again, serving a bare axum JSON handler: the ceiling of HTTP on this box.
#[derive(Debug)]
pub struct BareAxum {
    pub addr: SocketAddr,
    child: Child,
}

impl BareAxum {
    pub async fn start() -> Result<Self, BoxError> {
        let port = free_port()?;
        let child = Command::new(std::env::current_exe()?).args(["--bare-axum", &port.to_string()]).spawn()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut conn = Conn::new(addr);
        let deadline = Instant::now() + Duration::from_secs(10);
        while conn.get("/health", None).await.is_err() {
            if Instant::now() > deadline {
                return Err("the bare axum server never answered".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { addr, child })
    }
}

impl Drop for BareAxum {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `--bare-axum PORT` mode: `GET /health` → `{"status":"ok"}`, nothing else, on the same
/// runtime flavour as the server.
pub fn serve_bare_axum(port: &str) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let app = axum::Router::new()
            .route("/health", axum::routing::get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }));
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// `pgbench -N` (single-row updates and an insert, one commit each) on a throwaway database:
/// transactions per second at each client count.
pub fn pgbench(pg: &str, clients: &[u32], seconds: u32) -> Result<Vec<(u32, f64)>, BoxError> {
    let db = format!("ticketing_flash_pgbench_{}", Uuid::new_v4().simple());
    let (host, port) = pg_host_port(pg);
    let base = |cmd: &str| {
        let mut c = Command::new(cmd);
        c.args(["-h", &host, "-p", &port, "-U", "postgres"]);
        c
    };
    if !base("createdb").arg(&db).status()?.success() {
        return Err("createdb failed".into());
    }
    let result = (|| {
        let init = base("pgbench").args(["-i", "-q", "-s", "10", &db]).stderr(Stdio::null()).output()?;
        if !init.status.success() {
            return Err::<_, BoxError>("pgbench -i failed".into());
        }
        let mut rates = Vec::new();
        for &c in clients {
            let threads = c.clamp(1, 2).to_string();
            let out = base("pgbench")
                .args(["-N", "-c", &c.to_string(), "-j", &threads, "-T", &seconds.to_string(), &db])
                .output()?;
            // The summary goes to stdout or stderr depending on the version: read both.
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let tps = text
                .lines()
                .find_map(|l| l.strip_prefix("tps = "))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
                .ok_or("pgbench printed no tps")?;
            rates.push((c, tps));
        }
        Ok(rates)
    })();
    let _ = base("dropdb").args(["--force", &db]).status();
    result
}

/// `postgres://postgres@127.0.0.1:5432` → ("127.0.0.1", "5432").
fn pg_host_port(pg: &str) -> (String, String) {
    let rest = pg.rsplit('@').next().unwrap_or("127.0.0.1:5432");
    let rest = rest.split('/').next().unwrap_or(rest);
    match rest.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.to_owned()),
        None => (rest.to_owned(), "5432".to_owned()),
    }
}

/// Waits until `addr` answers `/health/ready` with 200 (a minute at most).
pub async fn wait_ready(addr: SocketAddr) -> Result<SocketAddr, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut conn = Conn::new(addr);
    loop {
        if let Ok(answer) = conn.get("/health/ready", None).await
            && answer.status.is_success()
        {
            return Ok(addr);
        }
        if Instant::now() > deadline {
            return Err(format!("{addr} never became ready").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
