//! Per-user rate limits on routes where every call takes something from a sale (a hold takes
//! seats, API.md "Limits"). The count lives in Redis, shared by every instance.
//!
//! A request with an `Idempotency-Key` is counted by the idempotency layer, in the same round trip
//! as its claim on the key (and only when it claims it: a replay is not a new call). The layer
//! marks such a request [`Counted`], and the route does not count it again. Any other request is
//! counted by the route itself. A hold with a key thus costs one Redis round trip less. One
//! difference follows: a keyed request is counted before its body is read, so a malformed one
//! counts too, where an unkeyed one is refused (400) before it is counted.

use axum::http::Method;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Result};

/// At most `limit` calls in a window of `window_seconds`, for one user, counted under `key`.
#[derive(Debug, Clone)]
pub struct PerUser {
    pub key: String,
    pub limit: u32,
    pub window_seconds: u64,
}

/// New holds: `RESERVATION_RATE_LIMIT` per user per minute.
pub fn holds(state: &AppState, user: Uuid) -> PerUser {
    PerUser { key: format!("reserve:{user}"), limit: state.config.reservation_rate_limit, window_seconds: 60 }
}

/// The per-user limit of the route matched as `path` for `method`, if it has one.
pub fn of_route(state: &AppState, method: &Method, path: &str, user: Uuid) -> Option<PerUser> {
    (method == Method::POST && path == "/api/reservations").then(|| holds(state, user))
}

/// In a request's extensions: it has been counted against its route's limit already, and was
/// within it.
#[derive(Debug, Clone, Copy)]
pub struct Counted;

/// Counts this call against `limit` unless it was `counted` already; 429 `RATE_LIMITED` with the
/// window's remaining seconds once over.
///
/// # Errors
/// 429 over the limit; 503 if Redis is away.
pub async fn check(state: &AppState, limit: &PerUser, counted: Option<Counted>) -> Result<()> {
    if counted.is_some() {
        return Ok(());
    }
    match state.auth.rate_limit(&limit.key, limit.limit, limit.window_seconds).await? {
        Ok(()) => Ok(()),
        Err(retry_after) => Err(ApiError::RateLimited(retry_after)),
    }
}
