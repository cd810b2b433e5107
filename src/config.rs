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
    /// `SMTP_URL` (unset: mail goes to `MAIL_OUTBOX_DIR`), e.g. `smtps://user:pass@smtp.example.com`.
    pub smtp_url: Option<String>,
    /// `MAIL_FROM` (`Ticketing <no-reply@localhost>`).
    pub mail_from: String,
    /// `WEBAUTHN_RP_ID` (`localhost`): the domain passkeys are bound to; `PUBLIC_URL` is the origin.
    pub webauthn_rp_id: String,
    /// `OIDC_<NAME>_ISSUER`, `OIDC_<NAME>_CLIENT_ID`, `OIDC_<NAME>_CLIENT_SECRET`: one per provider.
    pub oidc_providers: Vec<OidcProviderConfig>,
    /// `WS_MAX_CONNECTIONS` (50000): live availability sockets per instance.
    pub ws_max_connections: usize,
    /// `WS_PING_SECONDS` (20): keep-alive interval on live sockets; the session is re-checked
    /// each time, so a socket outlives a logout by at most this long.
    pub ws_ping_seconds: u64,
    /// `REQUEST_TIMEOUT_SECONDS` (30): a request without an answer by then gets a 503.
    pub request_timeout_seconds: u64,
}

/// One OpenID Connect provider; its name (lower case) is the `{provider}` in the OAuth routes.
#[derive(Clone)]
pub struct OidcProviderConfig {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for OidcProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviderConfig")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Every `OIDC_<NAME>_ISSUER` in `vars` with its client id and secret.
///
/// # Errors
/// A provider with an issuer but no client id or secret.
pub fn oidc_providers(vars: impl Iterator<Item = (String, String)>) -> Result<Vec<OidcProviderConfig>, ConfigError> {
    let vars: std::collections::BTreeMap<String, String> = vars.filter(|(_, v)| !v.trim().is_empty()).collect();
    let mut providers = Vec::new();
    for (key, issuer) in &vars {
        let Some(name) = key.strip_prefix("OIDC_").and_then(|k| k.strip_suffix("_ISSUER")) else { continue };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError {
                name: "OIDC_<NAME>_ISSUER",
                reason: format!("{key}: NAME must be letters and digits"),
            });
        }
        let setting = |suffix: &str| {
            vars.get(&format!("OIDC_{name}_{suffix}")).map(|v| v.trim().to_owned()).ok_or_else(|| ConfigError {
                name: "OIDC_<NAME>_*",
                reason: format!("OIDC_{name}_{suffix} is missing for OIDC_{name}_ISSUER"),
            })
        };
        providers.push(OidcProviderConfig {
            name: name.to_lowercase(),
            issuer: issuer.trim().trim_end_matches('/').to_owned(),
            client_id: setting("CLIENT_ID")?,
            client_secret: setting("CLIENT_SECRET")?,
        });
    }
    Ok(providers)
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
            smtp_url: var("SMTP_URL"),
            mail_from: var("MAIL_FROM").unwrap_or_else(|| "Ticketing <no-reply@localhost>".into()),
            webauthn_rp_id: var("WEBAUTHN_RP_ID").unwrap_or_else(|| "localhost".into()),
            oidc_providers: oidc_providers(std::env::vars())?,
            ws_max_connections: parsed("WS_MAX_CONNECTIONS", 50_000)?,
            request_timeout_seconds: parsed("REQUEST_TIMEOUT_SECONDS", 30)?,
            ws_ping_seconds: parsed("WS_PING_SECONDS", 20)?.max(1),
        })
    }

    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.reservation_ttl_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn oidc_providers_are_read_from_their_three_settings() {
        let providers = oidc_providers(vars(&[
            ("OIDC_GOOGLE_ISSUER", "https://accounts.google.com/"),
            ("OIDC_GOOGLE_CLIENT_ID", "id"),
            ("OIDC_GOOGLE_CLIENT_SECRET", "secret"),
            ("OIDC_UNRELATED", "x"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(providers.len(), 1);
        assert_eq!(providers[0].name, "google");
        assert_eq!(providers[0].issuer, "https://accounts.google.com");
        assert!(!format!("{:?}", providers[0]).contains("secret"), "the secret is never printed");
    }

    #[test]
    fn an_incomplete_or_oddly_named_provider_is_refused() {
        let missing = oidc_providers(vars(&[("OIDC_X_ISSUER", "https://x"), ("OIDC_X_CLIENT_ID", "id")]));
        assert!(missing.unwrap_err().reason.contains("OIDC_X_CLIENT_SECRET"));
        assert!(oidc_providers(vars(&[("OIDC_A-B_ISSUER", "https://x")])).is_err());
        assert!(oidc_providers(vars(&[("OIDC__ISSUER", "https://x")])).is_err());
    }
}
