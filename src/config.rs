//! Every setting, from the environment, with defaults that work on a developer machine.

use std::time::Duration;

/// Settings read at start-up. Later subsystems add theirs here.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HTTP_ADDR` (0.0.0.0:8080); port 0 picks a free port (tests).
    pub http_addr: String,
    /// `CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser (none).
    pub cors_origins: Vec<String>,
    /// `DATABASE_URL_EVENTS` (`postgres://postgres@127.0.0.1:5432/ticketing_events`)
    pub database_url_events: String,
    /// `DATABASE_URL_PROJECTIONS` (`postgres://postgres@127.0.0.1:5432/ticketing_projections`)
    pub database_url_projections: String,
    /// `DATABASE_URL_ANALYTICS` (`postgres://postgres@127.0.0.1:5432/ticketing_analytics`)
    pub database_url_analytics: String,
    /// `DATABASE_URL_AUTH` (`postgres://postgres@127.0.0.1:5432/ticketing_auth`)
    pub database_url_auth: String,
    /// `REDIS_URL` (`redis://127.0.0.1:6379`)
    pub redis_url: String,
    /// `REDIS_PREFIX` (`ticketing:`): every key starts with it (tests use one each).
    pub redis_prefix: String,
    /// `PUBLIC_URL` (`http://localhost:8080`): where links in mails point.
    pub public_url: String,
    /// `ADMIN_EMAILS`: comma-separated addresses that sign in as admins.
    pub admin_emails: Vec<String>,
    /// `MAIL_OUTBOX_DIR` (`mail-outbox`): where mail goes when no SMTP server is configured.
    pub mail_outbox_dir: String,
    /// `AUTH_RATE_LIMIT` (100): requests per client IP per 15 minutes on `/api/auth/*`.
    pub auth_rate_limit: u32,
    /// `KAFKA_BROKERS` (unset: the in-process bus).
    pub kafka_brokers: Option<String>,
    /// `RESERVATION_TTL_SECONDS` (300): how long a hold lasts.
    pub reservation_ttl_seconds: u32,
    /// `DATABASE_MAX_CONNECTIONS` (20): pool size per database.
    pub database_max_connections: u32,
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e| ConfigError { name, reason: format!("{raw:?}: {e}") }),
    }
}

impl Config {
    /// Reads the environment.
    ///
    /// # Errors
    /// A setting that is present but malformed or out of range.
    pub fn from_env() -> Result<Self, ConfigError> {
        let ttl: u32 = parsed("RESERVATION_TTL_SECONDS", 300)?;
        if !(1..=crate::domain::reservation::MAX_HOLD_SECONDS).contains(&ttl) {
            return Err(ConfigError { name: "RESERVATION_TTL_SECONDS", reason: "must be between 1 and 3600".into() });
        }
        Ok(Self {
            http_addr: var("HTTP_ADDR").unwrap_or_else(|| "0.0.0.0:8080".into()),
            cors_origins: var("CORS_ORIGINS")
                .map(|v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            database_url_events: var("DATABASE_URL_EVENTS")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/ticketing_events".into()),
            database_url_projections: var("DATABASE_URL_PROJECTIONS")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/ticketing_projections".into()),
            database_url_analytics: var("DATABASE_URL_ANALYTICS")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/ticketing_analytics".into()),
            kafka_brokers: var("KAFKA_BROKERS"),
            database_url_auth: var("DATABASE_URL_AUTH")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/ticketing_auth".into()),
            redis_url: var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            redis_prefix: var("REDIS_PREFIX").unwrap_or_else(|| "ticketing:".into()),
            public_url: var("PUBLIC_URL").unwrap_or_else(|| "http://localhost:8080".into()),
            admin_emails: var("ADMIN_EMAILS")
                .map(|v| v.split(',').map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()).collect())
                .unwrap_or_default(),
            mail_outbox_dir: var("MAIL_OUTBOX_DIR").unwrap_or_else(|| "mail-outbox".into()),
            auth_rate_limit: parsed("AUTH_RATE_LIMIT", 100)?,
            reservation_ttl_seconds: ttl,
            database_max_connections: parsed("DATABASE_MAX_CONNECTIONS", 20)?,
        })
    }

    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.reservation_ttl_seconds))
    }
}
