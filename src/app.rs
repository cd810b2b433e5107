//! The application: migrated databases, the command runtime and its worker, the bus and its
//! consumers, and the HTTP server, built together and stopped together.

use std::sync::Arc;

use tokio::net::TcpListener;
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
use crate::http::{self, AppState};
use crate::live::AvailabilityFeed;
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
        let redis = redis::aio::ConnectionManager::new(redis).await?;
        let auth = Auth::new(auth_db, redis, config.redis_prefix.clone(), &config.admin_emails);
        let passkeys =
            Passkeys::new(&config.webauthn_rp_id, &config.public_url, auth.clone()).map_err(StartupError::Setting)?;
        let oidc =
            Oidc::new(&config.oidc_providers, &config.public_url, auth.clone()).map_err(StartupError::Setting)?;
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::smtp(url, &config.mail_from)?,
            None => Mailer::outbox(&config.mail_outbox_dir, &config.mail_from)?,
        };
        let store = EventStore::new(events_db.clone());
        let runtime_config = RuntimeConfig { hold_seconds: config.reservation_ttl_seconds, ..RuntimeConfig::default() };
        let runtime = Runtime::new(
            store.clone(),
            Arc::new(SystemClock),
            Arc::new(SimulatedGateway::new(events_db.clone())),
            runtime_config,
        );
        let bus = match &config.kafka_brokers {
            Some(brokers) => EventBus::Kafka { store: store.clone(), settings: KafkaSettings::new(brokers.clone()) },
            None => EventBus::InProcess(store.clone()),
        };

        crate::http::metrics::handle();
        let (shutdown, stopped) = watch::channel(false);
        let mut background = Vec::new();
        // The worker is also crash recovery: its first round carries out whatever a previous
        // process recorded and did not finish, and fires overdue timers.
        {
            let (runtime, stopped) = (runtime.clone(), stopped.clone());
            background.push(tokio::spawn(async move { runtime.run_worker(stopped).await }));
        }
        background.extend(bus.spawn_publisher(&stopped));
        for projector in projections::all() {
            background.push(bus.spawn_consumer(projections_db.clone(), projector, &stopped));
        }
        background.push(bus.spawn_consumer(analytics_db.clone(), Arc::new(AnalyticsEtl::default()), &stopped));
        let live = AvailabilityFeed::new(projections_db.clone(), config.ws_max_connections, stopped.clone());
        background.push(live.spawn());

        let listener = TcpListener::bind(&config.http_addr)
            .await
            .map_err(|source| StartupError::Bind { addr: config.http_addr.clone(), source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr: config.http_addr.clone(), source })?
            .port();
        tracing::info!(port, bus = bus.name(), "listening");
        let state = AppState {
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
            config: Arc::new(config),
        };
        Ok(Self { listener, port, state, shutdown, background })
    }

    pub fn port(&self) -> u16 {
        self.port
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
        let Self { listener, state, shutdown, background, .. } = self;
        let app = http::router(state);
        let result = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(stop_signal())
            .await;
        tracing::info!("shutting down");
        let _ = shutdown.send(true);
        for task in background {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        result
    }
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
