//! Test helpers: a fresh database per test, and a runtime on it.

use std::sync::Arc;

use sqlx::{Connection, PgConnection, PgPool};
use ticketing::clock::{Clock, SystemClock};
use ticketing::runtime::gateway::SimulatedGateway;
use ticketing::runtime::{Runtime, RuntimeConfig};
use ticketing::store::{EventStore, database};
use uuid::Uuid;

/// The server the tests use: `TEST_DATABASE_URL` or the local one.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    /// Creates and migrates an events database `ticketing_test_<random>`.
    pub async fn new() -> Self {
        Self::with(&database::EVENTS_MIGRATOR).await
    }

    /// A projections database.
    pub async fn projections() -> Self {
        Self::with(&database::PROJECTIONS_MIGRATOR).await
    }

    /// An analytics database.
    pub async fn analytics() -> Self {
        Self::with(&database::ANALYTICS_MIGRATOR).await
    }

    async fn with(migrator: &sqlx::migrate::Migrator) -> Self {
        let name = format!("ticketing_test_{}", Uuid::new_v4().simple());
        let url = format!("{}/{name}", server_url());
        let pool = database::migrate(&url, migrator).await.expect("test database");
        Self { name, url, pool }
    }

    /// Another pool on the same database: stands in for a second server instance.
    pub fn second_pool(&self) -> PgPool {
        database::pool(&self.url, 10).expect("pool")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = format!("{}/postgres", server_url());
        // Drop from a thread of its own: Drop cannot await, and the test's runtime may be gone.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// Test timings: short leases and polls so recovery shows within a test.
pub fn fast_config() -> RuntimeConfig {
    RuntimeConfig {
        hold_seconds: 300,
        inline_lease: chrono::Duration::seconds(1),
        charge_grace: chrono::Duration::seconds(1),
        worker_lease: chrono::Duration::seconds(2),
        poll_interval: std::time::Duration::from_millis(50),
        ..RuntimeConfig::default()
    }
}

pub fn runtime_on(pool: PgPool, config: RuntimeConfig) -> Runtime {
    runtime_with_clock(pool, config, Arc::new(SystemClock))
}

pub fn runtime_with_clock(pool: PgPool, config: RuntimeConfig, clock: Arc<dyn Clock>) -> Runtime {
    let gateway = Arc::new(SimulatedGateway::new(pool.clone()));
    Runtime::new(EventStore::new(pool), clock, gateway, config)
}

/// The whole application on port 0 against fresh databases, serving in the background.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub runtime: Runtime,
    /// Held so the databases live as long as the app (dropped with it).
    _databases: (TestDb, TestDb, TestDb),
}

pub async fn spawn_app() -> TestApp {
    let (events, projections, analytics) =
        (TestDb::new().await, TestDb::projections().await, TestDb::analytics().await);
    let config = ticketing::config::Config {
        http_addr: "127.0.0.1:0".into(),
        cors_origins: vec!["http://localhost:5173".into()],
        database_url_events: events.url.clone(),
        database_url_projections: projections.url.clone(),
        database_url_analytics: analytics.url.clone(),
        kafka_brokers: None,
        reservation_ttl_seconds: 300,
        database_max_connections: 10,
    };
    let app = ticketing::app::Application::build(config).await.expect("application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let runtime = app.state().runtime.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp { address, client: reqwest::Client::new(), runtime, _databases: (events, projections, analytics) }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request")
    }

    /// GETs `path` until `ready` accepts the JSON body (read models catch up in milliseconds).
    pub async fn get_until(&self, path: &str, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let response = self.get(path).await;
            if response.status().is_success() {
                let body: serde_json::Value = response.json().await.expect("json");
                if ready(&body) {
                    return body;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "{path} never became ready");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
