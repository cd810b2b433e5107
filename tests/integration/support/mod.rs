//! Test helpers: a fresh database per test, and a runtime on it.

use std::sync::Arc;

use sqlx::{Connection, PgConnection, PgPool};
use ticketing::clock::{Clock, SystemClock};
use ticketing::runtime::gateway::SimulatedGateway;
use ticketing::runtime::{Runtime, RuntimeConfig};
use ticketing::store::{EventStore, database};
use uuid::Uuid;

pub mod smtp;

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

    /// An auth (users) database.
    pub async fn auth() -> Self {
        Self::with(&database::AUTH_MIGRATOR).await
    }

    /// An events database migrated only as far as the migrations before `version`: the schema a
    /// database had when an earlier release ran on it, for a test of the migrations after.
    pub async fn events_before(version: i64) -> Self {
        Self::with(&events_migrator_before(version).await).await
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

/// The whole application on port 0 against fresh databases, its own Redis key prefix and mail
/// outbox, serving in the background.
pub struct TestApp {
    pub address: String,
    /// The operators' listener: `/metrics`, detailed readiness.
    pub operations: String,
    /// What it was built with (a peer instance is built with the same).
    pub config: ticketing::config::Config,
    pub client: reqwest::Client,
    pub runtime: Runtime,
    pub outbox: std::path::PathBuf,
    /// Where the app's mail goes (unless a test sets `smtp_url` to `None`: then to `outbox`).
    pub smtp: smtp::SmtpSink,
    pub redis_prefix: String,
    /// Held so the databases live as long as the app (dropped with it).
    pub databases: (TestDb, TestDb, TestDb, TestDb),
}

pub const ADMIN_EMAIL: &str = "admin@example.com";

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut ticketing::config::Config)) -> TestApp {
    let databases = (TestDb::new().await, TestDb::projections().await, TestDb::analytics().await, TestDb::auth().await);
    spawn_app_on(databases, adjust).await
}

/// The application on databases made beforehand (another process may be using them already).
pub async fn spawn_app_on(
    (events, projections, analytics, auth): (TestDb, TestDb, TestDb, TestDb),
    adjust: impl FnOnce(&mut ticketing::config::Config),
) -> TestApp {
    let redis_prefix = format!("ticketing_test_{}:", Uuid::new_v4().simple());
    let smtp = smtp::SmtpSink::start().await;
    let outbox = std::env::temp_dir().join(format!("ticketing-mail-{}", Uuid::new_v4().simple()));
    let mut config = ticketing::config::Config {
        http_addr: "127.0.0.1:0".into(),
        metrics_addr: "127.0.0.1:0".into(),
        cors_origins: vec!["http://localhost:5173".into()],
        database_url_events: events.url.clone(),
        database_url_projections: projections.url.clone(),
        database_url_analytics: analytics.url.clone(),
        database_url_auth: auth.url.clone(),
        redis_url: std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        redis_prefix: redis_prefix.clone(),
        public_url: "http://localhost:8080".into(),
        admin_emails: vec![ADMIN_EMAIL.into()],
        mail_outbox_dir: outbox.to_string_lossy().into_owned(),
        auth_rate_limit: 1_000,
        magic_links_per_address: 1_000,
        // Small pools: tests run side by side on one PostgreSQL (100 connections in all).
        database_max_connections: 5,
        smtp_url: Some(smtp.url.clone()),
        mail_from: "Ticketing tests <no-reply@example.com>".into(),
        ws_max_connections: 100,
        // No web app in these tests: the API alone (the browser tests serve the built one).
        static_dir: std::env::temp_dir().join("ticketing-no-web-app").to_string_lossy().into_owned(),
        ..ticketing::config::Config::default()
    };
    adjust(&mut config);
    let app = ticketing::app::Application::build(config.clone()).await.expect("application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let operations = format!("http://127.0.0.1:{}", app.operations_port());
    let runtime = app.state().runtime.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        operations,
        config,
        client: reqwest::Client::new(),
        runtime,
        outbox,
        smtp,
        redis_prefix,
        databases: (events, projections, analytics, auth),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.outbox);
        let pattern = format!("{}*", self.redis_prefix);
        let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url) else { return };
            let Ok(mut conn) = client.get_connection() else { return };
            let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut conn).unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        })
        .join();
    }
}

/// A second instance on the same databases, Redis and mail sink: another server behind the
/// same load balancer. It runs until the test ends.
pub struct Peer {
    pub address: String,
}

impl TestApp {
    /// Starts another instance like this one (`adjust` may change its settings).
    pub async fn peer(&self, adjust: impl FnOnce(&mut ticketing::config::Config)) -> Peer {
        let mut config = ticketing::config::Config {
            http_addr: "127.0.0.1:0".into(),
            metrics_addr: "127.0.0.1:0".into(),
            ..self.config.clone()
        };
        adjust(&mut config);
        let app = ticketing::app::Application::build(config).await.expect("peer application");
        let peer = Peer { address: format!("http://127.0.0.1:{}", app.port()) };
        tokio::spawn(app.run_until_stopped());
        peer
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).bearer_auth(token).send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &serde_json::Value) -> reqwest::Response {
        let mut request = self.client.post(format!("{}{path}", self.address)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// The sign-in token in the newest mail to `email`.
    pub fn mailed_token(&self, email: &str) -> Option<String> {
        let token_in = |text: &str| text.lines().find_map(|l| l.trim_end().strip_prefix("Token: ").map(str::to_owned));
        let delivered = self.smtp.delivered();
        if let Some(token) =
            delivered.iter().rev().filter(|m| m.recipients.iter().any(|r| r == email)).find_map(|m| token_in(&m.data))
        {
            return Some(token);
        }
        let mut mails: Vec<_> =
            std::fs::read_dir(&self.outbox).ok()?.filter_map(Result::ok).map(|e| e.path()).collect();
        mails.sort();
        mails.iter().rev().find_map(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            text.starts_with(&format!("To: {email}\n"))
                .then(|| text.lines().find_map(|l| l.strip_prefix("Token: ").map(str::to_owned)))?
        })
    }

    /// Signs in by magic link, as a real user would: ask, read the mail, verify.
    pub async fn sign_in(&self, email: &str) -> String {
        let sent = self.post_json("/api/auth/magic-link/send", None, &serde_json::json!({ "email": email })).await;
        assert_eq!(sent.status(), reqwest::StatusCode::ACCEPTED);
        let token = self.mailed_token(email).expect("a mail with a token");
        let verified =
            self.post_json("/api/auth/magic-link/verify", None, &serde_json::json!({ "token": token })).await;
        assert_eq!(verified.status(), reqwest::StatusCode::OK);
        let body: serde_json::Value = verified.json().await.expect("json");
        body["session_token"].as_str().expect("session token").to_owned()
    }

    /// As [`TestApp::get_until`], signed in as `token`.
    pub async fn get_until_as(
        &self,
        token: &str,
        path: &str,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let response = self.get_as(token, path).await;
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

/// A request for seats, as the runtime takes it.
pub fn request(
    event_id: ticketing::domain::ids::EventId,
    section: &str,
    quantity: i64,
    seats: Option<&[&str]>,
) -> ticketing::runtime::purchase::ReserveRequest {
    ticketing::runtime::purchase::ReserveRequest {
        event_id,
        section: ticketing::domain::values::SectionName::parse(section).unwrap(),
        quantity: ticketing::domain::values::Quantity::new(quantity).unwrap(),
        seats: seats.map(|s| s.iter().map(|l| l.parse().unwrap()).collect()),
        reservation_id: None,
    }
}

/// A test card, valid until 2039.
pub fn card(number: &str) -> ticketing::runtime::gateway::Card {
    ticketing::runtime::gateway::Card::parse(number, "12/39", "123", chrono::Utc::now()).unwrap()
}

/// The same card as an API `payment_method`.
pub fn card_json(number: &str) -> serde_json::Value {
    serde_json::json!({ "type": "card", "card_number": number, "expiry": "12/39", "cvc": "123" })
}

impl TestApp {
    /// `POST /api/reservations/{reservation}/payment` by `token` with the test card `number`.
    pub async fn pay(&self, token: &str, reservation: &str, number: &str) -> reqwest::Response {
        let body = serde_json::json!({ "payment_method": card_json(number) });
        self.post_json(&format!("/api/reservations/{reservation}/payment"), Some(token), &body).await
    }

    /// An event on sale with one general section `Floor` of `capacity` seats, created by `admin`.
    pub async fn open_event(&self, admin: &str, capacity: u32) -> String {
        let body = serde_json::json!({
            "name": "Live", "date": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
            "venue": { "name": "Hall" },
            "sections": [{ "name": "Floor", "capacity": capacity, "seating": "general", "base_price_cents": 2_500 }]
        });
        let created = self.post_json("/api/events", Some(admin), &body).await;
        assert_eq!(created.status(), reqwest::StatusCode::CREATED);
        let created: serde_json::Value = created.json().await.expect("event");
        let id = created["event_id"].as_str().expect("event id").to_owned();
        for step in ["publish", "sales/open"] {
            let response =
                self.post_json(&format!("/api/events/{id}/{step}"), Some(admin), &serde_json::json!({})).await;
            assert!(response.status().is_success(), "{step}: {}", response.status());
        }
        id
    }
}

/// The events database's migrations older than `version`: the schema as an earlier release left
/// it. Each migration keeps its text (so its checksum) and whether it runs in a transaction.
pub async fn events_migrator_before(version: i64) -> sqlx::migrate::Migrator {
    let folder = std::env::temp_dir().join(format!("ticketing-migrations-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&folder).expect("migrations folder");
    for migration in database::EVENTS_MIGRATOR.iter().filter(|m| m.version < version) {
        let file = format!("{}_{}.sql", migration.version, migration.description.replace(' ', "_"));
        std::fs::write(folder.join(file), migration.sql.as_bytes()).expect("migration file");
    }
    let earlier = sqlx::migrate::Migrator::new(folder.as_path()).await.expect("earlier migrations");
    let _ = std::fs::remove_dir_all(&folder);
    earlier
}
