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
            reservation_ttl_seconds: ttl,
            database_max_connections: parsed("DATABASE_MAX_CONNECTIONS", 20)?,
        })
    }

    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.reservation_ttl_seconds))
    }
}
