//! The application: migrated databases, the command runtime and its worker, the bus and its
//! consumers, and the HTTP server, built together and stopped together.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::analytics::AnalyticsEtl;
use crate::auth::Auth;
use crate::auth::mail::Mailer;
use crate::auth::oidc::Oidc;
use crate::auth::passkey::Passkeys;
use crate::bus::EventBus;
use crate::bus::kafka::KafkaSettings;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::http::{self, AppState, Shared};
use crate::live::{AvailabilityFeed, Limits};
use crate::notifier::Notifications;
use crate::projections;
use crate::runtime::gateway::SimulatedGateway;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{EventStore, database};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("mail: {0}")]
    Mail(#[from] crate::auth::mail::MailError),
    #[error("{0}")]
    Setting(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// A built application, listening, not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    /// The operators' listener (`METRICS_ADDR`).
    operations: TcpListener,
    operations_port: u16,
    state: AppState,
    shutdown: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

impl Application {
    /// Migrates the databases, starts the worker, the bus and the read-model consumers, and
    /// binds `HTTP_ADDR` (port 0: any free port).
    ///
    /// # Errors
    /// A database that cannot be migrated, or an address that cannot be bound.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        config.check().map_err(|e| StartupError::Setting(e.to_string()))?;
        for (url, migrator) in [
            (&config.database_url_events, &database::EVENTS_MIGRATOR),
            (&config.database_url_projections, &database::PROJECTIONS_MIGRATOR),
            (&config.database_url_analytics, &database::ANALYTICS_MIGRATOR),
            (&config.database_url_auth, &database::AUTH_MIGRATOR),
        ] {
            database::migrate(url, migrator).await?.close().await;
        }
        let max = config.database_max_connections;
        let events_db = database::pool(&config.database_url_events, max)?;
        let projections_db = database::pool(&config.database_url_projections, max)?;
        let analytics_db = database::pool(&config.database_url_analytics, max)?;
        let auth_db = database::pool(&config.database_url_auth, max)?;
        let redis = redis::Client::open(config.redis_url.as_str())?;
        // Fail fast while Redis is away (a 503 in a second, not a request hanging on its
        // deadline), and use it again as soon as it is back.
        let redis_settings = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(1))
            .set_response_timeout(std::time::Duration::from_secs(2))
            .set_number_of_retries(1)
            .set_max_delay(500);
        let redis = redis::aio::ConnectionManager::new_with_config(redis, redis_settings).await?;
        let auth = Auth::new(auth_db, redis, config.redis_prefix.clone(), &config.admin_emails, &config.staff_emails);
        let passkeys =
            Passkeys::new(&config.webauthn_rp_id, &config.public_url, auth.clone()).map_err(StartupError::Setting)?;
        let oidc =
            Oidc::new(&config.oidc_providers, &config.public_url, auth.clone()).map_err(StartupError::Setting)?;
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::smtp(url, &config.mail_from)?,
            None => Mailer::outbox(&config.mail_outbox_dir, &config.mail_from)?,
        };
        let store = EventStore::new(events_db.clone());
        let runtime_config = RuntimeConfig {
            hold_seconds: config.reservation_ttl_seconds,
            max_held_per_customer: config.max_held_seats_per_customer,
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::new(
            store.clone(),
            Arc::new(SystemClock),
            Arc::new(SimulatedGateway::new(events_db.clone())),
            runtime_config,
        );
        let bus = match &config.kafka_brokers {
            Some(brokers) => EventBus::Kafka { store: store.clone(), settings: KafkaSettings::new(brokers.clone()) },
            None => EventBus::in_process(store.clone()),
        };

        crate::http::metrics::handle();
        let (shutdown, stopped) = watch::channel(false);
        let tickets = ticket_signer(&config, &auth).await?;
        let sender = crate::notifier::Sender {
            projections: projections_db.clone(),
            users: auth.users_db().clone(),
            mailer: mailer.clone(),
            tickets: tickets.clone(),
            public_url: config.public_url.clone(),
        };
        let mut background = spawn_background(&runtime, &bus, &projections_db, &analytics_db, sender, &stopped);
        let limits = Limits {
            total: config.ws_max_connections,
            per_user: config.ws_max_per_user,
            per_address: config.ws_max_per_ip,
        };
        let live = AvailabilityFeed::new(projections_db.clone(), limits, stopped.clone());
        background.push(live.spawn());

        let (listener, port) = bind(&config.http_addr).await?;
        let (operations, operations_port) = bind(&config.metrics_addr).await?;
        tracing::info!(port, operations_port, bus = bus.name(), "listening");
        let web = crate::http::web::WebApp::load(std::path::Path::new(&config.static_dir));
        let state = AppState::new(Shared {
            runtime,
            events_db,
            projections: projections_db,
            analytics: analytics_db,
            bus,
            auth,
            mailer,
            passkeys,
            oidc,
            live,
            web,
            tickets,
            readiness: crate::http::health::ReadinessCache::default(),
            config: Arc::new(config),
        });
        Ok(Self { listener, port, operations, operations_port, state, shutdown, background })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the operators' listener (`/metrics`, detailed readiness).
    pub fn operations_port(&self) -> u16 {
        self.operations_port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM, then stops taking connections, lets in-flight requests
    /// finish, and stops the background tasks.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { listener, operations, state, shutdown, background, .. } = self;
        let operations_app = http::operations_router(state.clone());
        let mut stopped = shutdown.subscribe();
        let operations_server = tokio::spawn(async move {
            let stop = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(error) = axum::serve(operations, operations_app).with_graceful_shutdown(stop).await {
                tracing::error!(%error, "operations listener failed");
            }
        });
        let app = http::router(state);
        let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<std::net::SocketAddr>(
            app,
        );
        let result = axum::serve(listener, app).with_graceful_shutdown(stop_signal()).await;
        tracing::info!("shutting down");
        let _ = shutdown.send(true);
        for task in background.into_iter().chain([operations_server]) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        result
    }
}

/// What runs beside the API until shutdown: the effects worker (every instance), and the jobs
/// that run once across instances (the relay, the projectors, the ETL, the mail sender).
fn spawn_background(
    runtime: &Runtime,
    bus: &EventBus,
    projections_db: &sqlx::PgPool,
    analytics_db: &sqlx::PgPool,
    sender: crate::notifier::Sender,
    stopped: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut background = Vec::new();
    // The worker is also crash recovery: its first round carries out whatever a previous
    // process recorded and did not finish, and fires overdue timers.
    {
        let (runtime, stopped) = (runtime.clone(), stopped.clone());
        background.push(tokio::spawn(async move { runtime.run_worker(stopped).await }));
    }
    background.extend(bus.spawn_publisher(stopped));
    for projector in projections::all(runtime.store()) {
        background.push(bus.spawn_consumer(projections_db.clone(), projector, stopped));
    }
    background.push(bus.spawn_consumer(
        analytics_db.clone(),
        Arc::new(AnalyticsEtl::new(runtime.store().clone())),
        stopped,
    ));
    // Mail buyers expect: written to an outbox by a projector, sent by one sender.
    background.push(bus.spawn_consumer(
        projections_db.clone(),
        Arc::new(Notifications::new(runtime.store().clone())),
        stopped,
    ));
    background.push(tokio::spawn(crate::leadership::run_exclusively(
        projections_db.clone(),
        "mail-sender",
        crate::leadership::RETRY,
        stopped.clone(),
        move |stop| sender.clone().run(stop),
    )));
    background
}

/// The ticket-code signer: `TICKET_SIGNING_KEY`, or the key kept in the auth database.
async fn ticket_signer(config: &Config, auth: &Auth) -> Result<crate::ticket_codes::TicketSigner, StartupError> {
    use crate::ticket_codes::{TicketSigner, key_bytes};
    let setting = |name: &str, e: String| StartupError::Setting(format!("{name}: {e}"));
    let secret = if let Some(key) = &config.ticket_signing_key {
        key_bytes(key).map_err(|e| setting("TICKET_SIGNING_KEY", e))?
    } else {
        let kept = auth
            .server_secret("ticket-signing-key")
            .await
            .map_err(|e| StartupError::Setting(format!("ticket signing key: {e}")))?;
        <[u8; 32]>::try_from(&kept[..32]).map_err(|e| setting("ticket signing key", e.to_string()))?
    };
    let previous = config
        .ticket_previous_keys
        .iter()
        .map(|k| key_bytes(k).map_err(|e| setting("TICKET_PREVIOUS_KEYS", e)))
        .collect::<Result<Vec<_>, _>>()?;
    TicketSigner::new(&secret, &previous).map_err(StartupError::Setting)
}

/// Connections the kernel queues for `accept` (it caps this at `net.core.somaxconn`).
///
/// An on-sale opens thousands of connections at once. With tokio's default of 1,024 the queue
/// overflowed in the flash-sale harness and the kernel dropped the SYNs: those buyers waited a
/// whole second for their retransmission before the server ever saw them.
const ACCEPT_BACKLOG: u32 = 4096;

async fn bind(addr: &str) -> Result<(TcpListener, u16), StartupError> {
    let bind_error = |source| StartupError::Bind { addr: addr.to_owned(), source };
    let resolved = tokio::net::lookup_host(addr).await.map_err(bind_error)?.next().ok_or_else(|| {
        bind_error(std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "the address resolves to nothing"))
    })?;
    let socket = if resolved.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.map_err(bind_error)?;
    // As tokio's own bind does: a restarted server can take its port while old connections close.
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(resolved).map_err(bind_error)?;
    let listener = socket.listen(ACCEPT_BACKLOG).map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    Ok((listener, port))
}

async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
