//! Users, roles and sessions.
//!
//! Users live in `ticketing_auth`; sessions, one-time sign-in tokens and rate-limit counters live
//! in Redis, keyed by the SHA-256 of the token (a Redis dump holds no usable credential). A
//! session token is 256 bits from the OS, lasts 24 hours and is extended on every use; logging
//! out deletes it, so it is dead on every instance at once.

pub mod mail;
pub mod oidc;
pub mod passkey;

use chrono::Duration;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::DomainError;
use crate::domain::values::Timestamp;

/// A session lapses after this long unused...
pub const SESSION_TTL: Duration = Duration::hours(24);
/// ...and ends this long after the sign-in, however much it is used.
pub const SESSION_MAX_AGE: Duration = Duration::days(7);
pub const MAGIC_LINK_TTL: Duration = Duration::minutes(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    /// Door staff: may check tickets in, nothing else an admin may.
    Staff,
    Customer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// May let people in at the door.
    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Staff)
    }
}

/// A signed-in session as Redis keeps it (the user travels with it: no database trip per request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user: User,
    /// When the user proved who they are (some actions want this to be recent).
    pub signed_in_at: Timestamp,
    /// When it lapses if unused.
    pub expires_at: Timestamp,
    /// When it ends however much it is used.
    pub ends_at: Timestamp,
}

fn seconds(duration: Duration) -> u64 {
    u64::try_from(duration.num_seconds()).unwrap_or(0)
}

/// 64 hex digits, the shape of every token we issue.
fn is_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why auth could not answer (the request is then a 503, not a 401).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("auth database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("no randomness: {0}")]
    Random(String),
}

/// The addresses [`parse_email`] accepts, as the OpenAPI document states them (a generated
/// client or form can check before sending): an RFC 5322 dot-atom in ASCII, at most 64
/// characters before the `@`, a domain of at least two labels of letters, digits and inner
/// hyphens, 254 characters in all.
pub const EMAIL_PATTERN: &str = r"^(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$";

/// A lower-cased email address of the shape of [`EMAIL_PATTERN`] (the link we mail proves it
/// is real). Surrounding spaces are not trimmed here: the document promises exactly this
/// pattern, and the web app trims what people type.
///
/// # Errors
/// `ValidationFailed` for anything that cannot be an address.
pub fn parse_email(raw: &str) -> Result<String, DomainError> {
    let invalid = || DomainError::validation("email", "is not an email address");
    if raw.len() > 254 || !raw.is_ascii() {
        return Err(invalid());
    }
    let email = raw.to_ascii_lowercase();
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    // RFC 5322 dot-atoms only (no quoted local parts, no address literals): everything a mail
    // server will accept, and nothing that could be markup or an injection where it is shown.
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let labels_ok = |part: &str, allowed: &dyn Fn(char) -> bool| {
        part.split('.').all(|label| !label.is_empty() && label.chars().all(allowed))
    };
    let domain_char = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if local.len() > 64
        || !labels_ok(local, &atext)
        || !domain.contains('.')
        || !labels_ok(domain, &domain_char)
        || domain.split('.').any(|label| label.starts_with('-') || label.ends_with('-'))
    {
        return Err(invalid());
    }
    Ok(email)
}

/// A fresh 256-bit token, hex-encoded.
///
/// # Errors
/// The OS has no randomness to give.
pub fn new_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(hex(&bytes))
}

/// Lower-case hex. By table, not `write!` per byte: every signed-in request hashes its session
/// token, idempotency key and body, and formatting them byte by byte was 0.5 % of all CPU in a
/// profile of the flash sale.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// SHA-256 of `text`, hex-encoded.
pub fn hashed(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn role_of(text: &str) -> Role {
    match text {
        "admin" => Role::Admin,
        "staff" => Role::Staff,
        _ => Role::Customer,
    }
}

type UserRow = (Uuid, String, String, Timestamp);

fn user_of((id, email, role, created_at): UserRow) -> User {
    User { id, email, role: role_of(&role), created_at }
}

/// Users, sessions and one-time tokens.
#[derive(Clone)]
pub struct Auth {
    users: PgPool,
    redis: ConnectionManager,
    prefix: String,
    admin_emails: Vec<String>,
    staff_emails: Vec<String>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(
        users: PgPool,
        redis: ConnectionManager,
        prefix: String,
        admin_emails: &[String],
        staff_emails: &[String],
    ) -> Self {
        let parsed = |emails: &[String]| emails.iter().filter_map(|e| parse_email(e).ok()).collect();
        Self { users, redis, prefix, admin_emails: parsed(admin_emails), staff_emails: parsed(staff_emails) }
    }

    pub fn users_db(&self) -> &PgPool {
        &self.users
    }

    /// Redis, for the other short-lived records kept beside sessions (idempotency keys).
    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// Every key this instance writes starts with this.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, kind: &str, token: &str) -> String {
        format!("{}{kind}:{}", self.prefix, hashed(token))
    }

    /// The user with this address, created as a customer (or an admin or door staff, if listed
    /// in `ADMIN_EMAILS` or `STAFF_EMAILS`) on first sign-in; a listed address is promoted.
    ///
    /// # Errors
    /// The auth database.
    pub async fn user_for_email(&self, email: &str, make_admin: bool) -> Result<User, AuthError> {
        let role = if make_admin || self.admin_emails.iter().any(|a| a == email) {
            Some("admin")
        } else if self.staff_emails.iter().any(|a| a == email) {
            Some("staff")
        } else {
            None
        };
        let row: UserRow = sqlx::query_as(
            "INSERT INTO users (user_id, email, role) VALUES ($1, $2, COALESCE($3, 'customer'))
             ON CONFLICT (email) DO UPDATE SET role = CASE
                 WHEN users.role = 'admin' THEN 'admin' ELSE COALESCE($3, users.role) END
             RETURNING user_id, email, role, created_at",
        )
        .bind(Uuid::new_v4())
        .bind(email)
        .bind(role)
        .fetch_one(&self.users)
        .await?;
        Ok(user_of(row))
    }

    /// # Errors
    /// The auth database.
    pub async fn user(&self, id: Uuid) -> Result<Option<User>, AuthError> {
        let row: Option<UserRow> =
            sqlx::query_as("SELECT user_id, email, role, created_at FROM users WHERE user_id = $1")
                .bind(id)
                .fetch_optional(&self.users)
                .await?;
        Ok(row.map(user_of))
    }

    /// # Errors
    /// The auth database.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, AuthError> {
        let row: Option<UserRow> =
            sqlx::query_as("SELECT user_id, email, role, created_at FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(&self.users)
                .await?;
        Ok(row.map(user_of))
    }

    fn sessions_of(&self, user: Uuid) -> String {
        format!("{}user_sessions:{user}", self.prefix)
    }

    /// Starts a session; returns its token and what it is.
    ///
    /// # Errors
    /// Redis or randomness.
    pub async fn start_session(&self, user: &User, now: Timestamp) -> Result<(String, Session), AuthError> {
        let token = new_token()?;
        let session = Session {
            user: user.clone(),
            signed_in_at: now,
            expires_at: (now + SESSION_TTL).min(now + SESSION_MAX_AGE),
            ends_at: now + SESSION_MAX_AGE,
        };
        let record = serde_json::to_string(&session).map_err(|e| AuthError::Random(e.to_string()))?;
        let key = self.key("session", &token);
        let index = self.sessions_of(user.id);
        let mut redis = self.redis.clone();
        let () = redis::pipe()
            .set_ex(&key, record, seconds(SESSION_TTL))
            .ignore()
            .sadd(&index, &key)
            .ignore()
            .expire(&index, seconds(SESSION_MAX_AGE).cast_signed())
            .ignore()
            .query_async(&mut redis)
            .await?;
        Ok((token, session))
    }

    /// The session of `token`, slid by another 24 hours (never past its absolute end).
    ///
    /// # Errors
    /// Redis.
    pub async fn session(&self, token: &str, now: Timestamp) -> Result<Option<Session>, AuthError> {
        if !is_token(token) {
            return Ok(None);
        }
        let key = self.key("session", token);
        let mut redis = self.redis.clone();
        let record: Option<String> = redis.get_ex(&key, redis::Expiry::EX(seconds(SESSION_TTL))).await?;
        let Some(mut session) = record.and_then(|r| serde_json::from_str::<Session>(&r).ok()) else {
            return Ok(None);
        };
        if now >= session.ends_at {
            let _: i64 = redis.del(&key).await?;
            return Ok(None);
        }
        session.expires_at = (now + SESSION_TTL).min(session.ends_at);
        if session.expires_at == session.ends_at {
            // The last day: the key must not outlive the absolute end.
            let _: bool = redis.expire_at(&key, session.ends_at.timestamp()).await?;
        }
        Ok(Some(session))
    }

    /// Whether a session is still live, without extending it (cheap enough to ask for every
    /// open socket).
    ///
    /// # Errors
    /// Redis.
    pub async fn session_exists(&self, token: &str) -> Result<bool, AuthError> {
        let mut redis = self.redis.clone();
        Ok(redis.exists(self.key("session", token)).await?)
    }

    /// Ends a session everywhere at once.
    ///
    /// # Errors
    /// Redis.
    pub async fn end_session(&self, token: &str, user: Uuid) -> Result<(), AuthError> {
        let key = self.key("session", token);
        let mut redis = self.redis.clone();
        let () = redis::pipe()
            .del(&key)
            .ignore()
            .srem(self.sessions_of(user), &key)
            .ignore()
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Ends every session of `user` at once; returns how many were live.
    ///
    /// # Errors
    /// Redis.
    pub async fn end_all_sessions(&self, user: Uuid) -> Result<usize, AuthError> {
        let index = self.sessions_of(user);
        let mut redis = self.redis.clone();
        let keys: Vec<String> = redis.smembers(&index).await?;
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.del(key);
        }
        pipe.del(&index);
        let deleted: Vec<i64> = pipe.query_async(&mut redis).await?;
        let live = deleted.iter().take(keys.len()).filter(|n| **n > 0).count();
        Ok(live)
    }

    /// A single-use sign-in token for `email`, valid 15 minutes.
    ///
    /// # Errors
    /// Redis or randomness.
    pub async fn issue_magic_link(&self, email: &str) -> Result<String, AuthError> {
        let token = new_token()?;
        let seconds = u64::try_from(MAGIC_LINK_TTL.num_seconds()).unwrap_or(900);
        let mut redis = self.redis.clone();
        let () = redis.set_ex(self.key("magic", &token), email, seconds).await?;
        Ok(token)
    }

    /// The address a sign-in token was issued for; the token is gone afterwards (single use).
    ///
    /// # Errors
    /// Redis.
    pub async fn redeem_magic_link(&self, token: &str) -> Result<Option<String>, AuthError> {
        if !is_token(token) {
            return Ok(None);
        }
        let mut redis = self.redis.clone();
        Ok(redis.get_del(self.key("magic", token)).await?)
    }

    /// Where the hits of the rate limit called `key` are counted.
    pub fn rate_limit_key(&self, key: &str) -> String {
        format!("{}ratelimit:{key}", self.prefix)
    }

    /// Counts a hit for `key` in a window of `window_seconds`; `Err(retry_after)` once more than
    /// `limit` hits fall in the current window.
    ///
    /// # Errors
    /// Redis (the outer error).
    pub async fn rate_limit(&self, key: &str, limit: u32, window_seconds: u64) -> Result<Result<(), u64>, AuthError> {
        let key = self.rate_limit_key(key);
        let mut redis = self.redis.clone();
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(&key, 1u64)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(window_seconds)
            .arg("NX")
            .ignore()
            .query_async(&mut redis)
            .await?;
        if count > u64::from(limit) {
            // Asked only of a refused caller: every hold in a sale passes through here, and the
            // window's end is news only to those over the limit. Gone by now (the window just
            // ended): retry in a second.
            let ttl: i64 = redis.ttl(&key).await?;
            return Ok(Err(u64::try_from(ttl.max(1)).unwrap_or(1)));
        }
        Ok(Ok(()))
    }

    /// The shared secret called `name` (32 random bytes made by whichever instance asked first).
    ///
    /// # Errors
    /// The auth database, or randomness.
    pub async fn server_secret(&self, name: &str) -> Result<Vec<u8>, AuthError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| AuthError::Random(e.to_string()))?;
        sqlx::query("INSERT INTO server_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(&fresh[..])
            .execute(&self.users)
            .await?;
        // A statement of its own: it sees the row whichever instance's insert won.
        Ok(sqlx::query_scalar("SELECT secret FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.users)
            .await?)
    }

    /// # Errors
    /// Redis.
    pub async fn ping(&self) -> Result<(), AuthError> {
        let mut redis = self.redis.clone();
        let _: String = redis::cmd("PING").query_async(&mut redis).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_the_sha256_in_lower_case_hex() {
        // FIPS 180-2's example "abc", as every earlier version of this function wrote it.
        assert_eq!(hashed("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff, 0x5a]), "000ff0ff5a");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(parse_email("Alice@Example.COM").unwrap(), "alice@example.com");
        assert_eq!(parse_email("o'brien+tickets@mail.example.co.uk").unwrap(), "o'brien+tickets@mail.example.co.uk");
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "alice@.com",
            "alice@example.com.",
            "<script>alert(1)</script>@x.com",
            "a(b)@example.com",
            "alice@exa_mple.com",
            "alice@-example.com",
            "al..ice@example.com",
            "\"quoted\"@example.com",
            // The document's pattern promises exactly this shape: no spaces, ASCII only.
            " alice@example.com",
            "alice@example.com ",
            "élise@example.com",
            "alice@exämple.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad:?}");
        }
        assert!(parse_email(&format!("{}@example.com", "a".repeat(300))).is_err());
    }

    #[test]
    fn tokens_are_256_bits_and_distinct() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(hashed(&a), a);
    }
}
