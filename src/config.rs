//! Every setting, from the environment, with defaults that work on a developer machine.

use std::time::Duration;

use crate::http::client_ip::TrustedProxies;

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
    /// `STAFF_EMAILS`: comma-separated addresses that sign in as door staff (check-in only).
    pub staff_emails: Vec<String>,
    /// `TICKET_SIGNING_KEY` (unset: one is made once and kept in the auth database): the Ed25519
    /// key ticket codes are signed with, 32 bytes in base64url.
    pub ticket_signing_key: Option<String>,
    /// `TICKET_PREVIOUS_KEYS`: comma-separated public keys (base64url) of rotated-out signing keys
    /// whose codes still verify.
    pub ticket_previous_keys: Vec<String>,
    /// `MAIL_OUTBOX_DIR` (`mail-outbox`): where mail goes when no SMTP server is configured.
    pub mail_outbox_dir: String,
    /// `AUTH_RATE_LIMIT` (100): requests per client IP per 15 minutes on `/api/auth/*`.
    pub auth_rate_limit: u32,
    /// `MAGIC_LINKS_PER_ADDRESS` (5): sign-in links one email address may be sent per hour, so
    /// nobody can flood someone else's inbox.
    pub magic_links_per_address: u32,
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
    /// `WS_MAX_PER_USER` (8) and `WS_MAX_PER_IP` (64): live sockets one session's user, and one
    /// client address, may hold open on an instance.
    pub ws_max_per_user: usize,
    pub ws_max_per_ip: usize,
    /// `TRUSTED_PROXIES` (none): load balancers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// `METRICS_ADDR` (`127.0.0.1:9090`): the operators' listener for `/metrics` and the detailed
    /// readiness report; never the public port.
    pub metrics_addr: String,
    /// `MAX_HELD_SEATS_PER_CUSTOMER` (8): seats one customer may hold unpaid in one event.
    pub max_held_seats_per_customer: u8,
    /// `RESERVATION_RATE_LIMIT` (30): reservations one user may start per minute.
    pub reservation_rate_limit: u32,
    /// `STATIC_DIR` (`static`): the built web app.
    pub static_dir: String,
}

impl Default for Config {
    /// The settings of a developer machine: local PostgreSQL and Redis, mail to files.
    fn default() -> Self {
        Self {
            http_addr: "0.0.0.0:8080".into(),
            cors_origins: Vec::new(),
            database_url_events: "postgres://postgres@127.0.0.1:5432/ticketing_events".into(),
            database_url_projections: "postgres://postgres@127.0.0.1:5432/ticketing_projections".into(),
            database_url_analytics: "postgres://postgres@127.0.0.1:5432/ticketing_analytics".into(),
            database_url_auth: "postgres://postgres@127.0.0.1:5432/ticketing_auth".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_prefix: "ticketing:".into(),
            public_url: "http://localhost:8080".into(),
            admin_emails: Vec::new(),
            staff_emails: Vec::new(),
            ticket_signing_key: None,
            ticket_previous_keys: Vec::new(),
            mail_outbox_dir: "mail-outbox".into(),
            auth_rate_limit: 100,
            magic_links_per_address: 5,
            kafka_brokers: None,
            reservation_ttl_seconds: 300,
            database_max_connections: 20,
            smtp_url: None,
            mail_from: "Ticketing <no-reply@localhost>".into(),
            webauthn_rp_id: "localhost".into(),
            oidc_providers: Vec::new(),
            ws_max_connections: 50_000,
            ws_ping_seconds: 20,
            request_timeout_seconds: 30,
            ws_max_per_user: 8,
            ws_max_per_ip: 64,
            trusted_proxies: TrustedProxies::default(),
            metrics_addr: "127.0.0.1:9090".into(),
            max_held_seats_per_customer: 8,
            reservation_rate_limit: 30,
            static_dir: "static".into(),
        }
    }
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
        let defaults = Self::default();
        let or = |name: &str, default: &str| var(name).unwrap_or_else(|| default.to_owned());
        let list = |name: &str| -> Vec<String> {
            var(name)
                .map(|v| v.split(',').map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect())
                .unwrap_or_default()
        };
        let trusted_proxies = TrustedProxies::parse(&var("TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|reason| ConfigError { name: "TRUSTED_PROXIES", reason })?;
        let held: u8 = parsed("MAX_HELD_SEATS_PER_CUSTOMER", defaults.max_held_seats_per_customer)?;
        if held == 0 {
            return Err(ConfigError { name: "MAX_HELD_SEATS_PER_CUSTOMER", reason: "must be at least 1".into() });
        }
        let config = Self {
            http_addr: or("HTTP_ADDR", &defaults.http_addr),
            cors_origins: list("CORS_ORIGINS"),
            database_url_events: or("DATABASE_URL_EVENTS", &defaults.database_url_events),
            database_url_projections: or("DATABASE_URL_PROJECTIONS", &defaults.database_url_projections),
            database_url_analytics: or("DATABASE_URL_ANALYTICS", &defaults.database_url_analytics),
            database_url_auth: or("DATABASE_URL_AUTH", &defaults.database_url_auth),
            kafka_brokers: var("KAFKA_BROKERS"),
            redis_url: or("REDIS_URL", &defaults.redis_url),
            redis_prefix: or("REDIS_PREFIX", &defaults.redis_prefix),
            public_url: or("PUBLIC_URL", &defaults.public_url),
            admin_emails: list("ADMIN_EMAILS").into_iter().map(|e| e.to_lowercase()).collect(),
            staff_emails: list("STAFF_EMAILS").into_iter().map(|e| e.to_lowercase()).collect(),
            ticket_signing_key: var("TICKET_SIGNING_KEY"),
            ticket_previous_keys: list("TICKET_PREVIOUS_KEYS"),
            mail_outbox_dir: or("MAIL_OUTBOX_DIR", &defaults.mail_outbox_dir),
            auth_rate_limit: parsed("AUTH_RATE_LIMIT", defaults.auth_rate_limit)?,
            magic_links_per_address: parsed("MAGIC_LINKS_PER_ADDRESS", defaults.magic_links_per_address)?,
            reservation_ttl_seconds: ttl,
            database_max_connections: parsed("DATABASE_MAX_CONNECTIONS", defaults.database_max_connections)?,
            smtp_url: var("SMTP_URL"),
            mail_from: or("MAIL_FROM", &defaults.mail_from),
            webauthn_rp_id: or("WEBAUTHN_RP_ID", &defaults.webauthn_rp_id),
            oidc_providers: oidc_providers(std::env::vars())?,
            ws_max_connections: parsed("WS_MAX_CONNECTIONS", defaults.ws_max_connections)?,
            request_timeout_seconds: parsed("REQUEST_TIMEOUT_SECONDS", defaults.request_timeout_seconds)?,
            ws_ping_seconds: parsed("WS_PING_SECONDS", defaults.ws_ping_seconds)?.max(1),
            ws_max_per_user: parsed("WS_MAX_PER_USER", defaults.ws_max_per_user)?,
            ws_max_per_ip: parsed("WS_MAX_PER_IP", defaults.ws_max_per_ip)?,
            trusted_proxies,
            metrics_addr: or("METRICS_ADDR", &defaults.metrics_addr),
            max_held_seats_per_customer: held,
            reservation_rate_limit: parsed("RESERVATION_RATE_LIMIT", defaults.reservation_rate_limit)?,
            static_dir: or("STATIC_DIR", &defaults.static_dir),
        };
        config.check()?;
        Ok(config)
    }

    /// Rules that span settings.
    ///
    /// # Errors
    /// A combination that would be unsafe in production.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.is_https() && self.smtp_url.is_none() {
            // The outbox directory would hold live sign-in links on a public server.
            return Err(ConfigError {
                name: "SMTP_URL",
                reason: "an https PUBLIC_URL is a public server: set SMTP_URL (mail to files is for development)"
                    .into(),
            });
        }
        Ok(())
    }

    /// Whether the public URL is https (cookies are then `Secure`, HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.public_url.to_ascii_lowercase().starts_with("https://")
    }

    /// The session cookie's name: `__Host-` prefixed on https, so only this exact origin, over
    /// TLS, can ever set it.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.is_https() { "__Host-ticketing_session" } else { "ticketing_session" }
    }

    /// `scheme://host[:port]` of `PUBLIC_URL`: what browsers send as `Origin`.
    pub fn public_origin(&self) -> &str {
        let url = self.public_url.trim_end_matches('/');
        let host_start = url.find("://").map_or(0, |i| i + 3);
        match url[host_start..].find('/') {
            Some(path) => &url[..host_start + path],
            None => url,
        }
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
    fn the_public_origin_is_the_url_without_its_path() {
        let with = |url: &str| Config { public_url: url.into(), ..Config::default() };
        assert_eq!(with("https://tickets.example.com/").public_origin(), "https://tickets.example.com");
        assert_eq!(with("http://localhost:8080/app/x").public_origin(), "http://localhost:8080");
        assert!(with("https://tickets.example.com").is_https());
        assert_eq!(with("https://tickets.example.com").session_cookie_name(), "__Host-ticketing_session");
        assert!(with("https://tickets.example.com").check().is_err(), "https without SMTP is refused");
        let mut smtp = with("https://tickets.example.com");
        smtp.smtp_url = Some("smtps://mail.example.com".into());
        assert!(smtp.check().is_ok());
    }

    #[test]
    fn an_incomplete_or_oddly_named_provider_is_refused() {
        let missing = oidc_providers(vars(&[("OIDC_X_ISSUER", "https://x"), ("OIDC_X_CLIENT_ID", "id")]));
        assert!(missing.unwrap_err().reason.contains("OIDC_X_CLIENT_SECRET"));
        assert!(oidc_providers(vars(&[("OIDC_A-B_ISSUER", "https://x")])).is_err());
        assert!(oidc_providers(vars(&[("OIDC__ISSUER", "https://x")])).is_err());
    }
}
