//! `Idempotency-Key` on POST requests (API.md): the first request's status, body and the headers
//! a client acts on (`Location`, `Retry-After`) are kept for 24 hours per (user, key). A replay
//! gets them back unchanged with `Idempotent-Replayed: true`; the same key with a different
//! request is 422 `IDEMPOTENCY_KEY_REUSED`; a replay while the first is still running is 409
//! `IDEMPOTENCY_IN_FLIGHT`.
//!
//! Only signed-in callers' requests to real routes are recorded (the layer runs on matched routes
//! only), never `/api/auth/*` (whose answers carry credentials), and never an answer that is worth
//! retrying: 5xx, 429 and 409 `CONFLICT` are forgotten so the retry runs again. Anything else a
//! stranger sends with a key is simply not recorded: nobody can fill Redis.

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

use super::AppState;
use super::consistency::Deferred;
use super::error::ApiError;
use super::rate_limit;
use super::session::authenticate;
use crate::auth::{hashed, hex};

/// Response headers a replay repeats.
const KEPT_HEADERS: [axum::http::HeaderName; 2] = [axum::http::header::LOCATION, axum::http::header::RETRY_AFTER];

pub const HEADER: &str = "idempotency-key";
const KEEP_SECONDS: u64 = 24 * 60 * 60;
/// An "in flight" claim lives this long unless the request's process renews it: a request
/// whose process was killed frees its key within seconds, so the client's retry on another
/// instance runs instead of being told "in flight" for a minute (found by the fault suite).
const IN_FLIGHT_SECONDS: u64 = 5;
/// How often a running request renews its claim.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a final answer that Redis could not take is retried in the background.
const RECORD_RETRY_SECONDS: u64 = 60;
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Record {
    InFlight {
        fingerprint: String,
    },
    Done {
        fingerprint: String,
        status: u16,
        body: String,
        #[serde(default)]
        headers: Vec<(String, String)>,
    },
}

/// Claims a key for a request (`KEYS[1]`, `ARGV[1]` for `ARGV[2]` seconds) and, only if it
/// claimed it, counts the request against its route's per-user limit (`KEYS[2]`: at most
/// `ARGV[3]` in `ARGV[4]` seconds), in one round trip. A replay is not a new call, so it is not
/// counted. Over the limit, the claim is let go again (a 429 is never kept) and the answer is
/// the window's remaining seconds. Both keys are on the one Redis the platform uses.
static CLAIM_AND_COUNT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return {0, 0} end
        if #KEYS < 2 then return {1, 0} end
        local count = redis.call('INCR', KEYS[2])
        redis.call('EXPIRE', KEYS[2], ARGV[4], 'NX')
        if count <= tonumber(ARGV[3]) then return {1, count} end
        redis.call('DEL', KEYS[1])
        return {2, redis.call('TTL', KEYS[2])}
        ",
    )
});
/// What [`CLAIM_AND_COUNT`] answers first: claimed (and within the limit, if any).
const CLAIMED: i64 = 1;
/// Claimed, but over the route's limit: let go again.
const OVER_LIMIT: i64 = 2;

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "code": code, "message": message }))).into_response()
}

/// A POST with an `Idempotency-Key` (outside `/api/auth/`), on its way to the route `next`
/// (`layers::Matched` sends only those here).
pub async fn middleware(state: AppState, mut request: Request, next: Route) -> Response {
    let Some(key) = request.headers().get(HEADER).map(|v| v.to_str().map(str::to_owned)) else {
        return run(next, request).await;
    };
    // Who asks comes first: a stranger's key is never looked at (the route answers 401).
    let signed_in = match authenticate(request.headers(), request.method(), &state).await {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => return run(next, request).await,
        Err(e) => return e.into_response(),
    };
    let key = match key {
        Ok(k) if (1..=255).contains(&k.len()) => k,
        _ => {
            return ApiError::InvalidRequest("Idempotency-Key must be 1 to 255 visible characters".into())
                .into_response();
        }
    };
    let owner = signed_in.user.id.to_string();
    let route_limit = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| rate_limit::of_route(&state, request.method(), path.as_str(), signed_in.user.id));
    // The handler's `SignedIn` takes it from here instead of asking Redis again.
    request.extensions_mut().insert(signed_in);
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError::InvalidRequest("request body too large".into()).into_response();
    };
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), &bytes);
    let redis_key = format!("{}idempotency:{owner}:{}", state.auth.prefix(), hashed(&key));
    let mut redis = state.auth.redis();

    let claim = serde_json::to_string(&Record::InFlight { fingerprint: fingerprint.clone() }).unwrap_or_default();
    let mut invocation = CLAIM_AND_COUNT.prepare_invoke();
    invocation.key(&redis_key).arg(&claim).arg(IN_FLIGHT_SECONDS);
    if let Some(limit) = &route_limit {
        invocation.key(state.auth.rate_limit_key(&limit.key)).arg(limit.limit).arg(limit.window_seconds);
    }
    let claimed: Result<(i64, i64), _> = invocation.invoke_async(&mut redis).await;
    match claimed {
        Err(e) => return ApiError::unavailable("redis", e).into_response(),
        Ok((OVER_LIMIT, retry_after)) => {
            return ApiError::RateLimited(u64::try_from(retry_after.max(1)).unwrap_or(1)).into_response();
        }
        Ok((CLAIMED, _)) => {
            if route_limit.is_some() {
                parts.extensions.insert(rate_limit::Counted);
            }
        }
        Ok(_) => {
            let existing: Option<String> = match redis.get(&redis_key).await {
                Ok(v) => v,
                Err(e) => return ApiError::unavailable("redis", e).into_response(),
            };
            return match existing.and_then(|s| serde_json::from_str::<Record>(&s).ok()) {
                Some(Record::InFlight { fingerprint: f } | Record::Done { fingerprint: f, .. }) if f != fingerprint => {
                    ApiError::IdempotencyKeyReused.into_response()
                }
                Some(Record::Done { status, body, headers, .. }) => {
                    let mut response = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
                    let replayed = response.headers_mut();
                    replayed.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    replayed.insert("idempotent-replayed", HeaderValue::from_static("true"));
                    for (name, value) in headers {
                        if let (Ok(name), Ok(value)) =
                            (axum::http::HeaderName::try_from(name), HeaderValue::from_str(&value))
                        {
                            replayed.insert(name, value);
                        }
                    }
                    response
                }
                // In flight (or expired between the two calls): tell the client to wait.
                _ => refusal(
                    StatusCode::CONFLICT,
                    "IDEMPOTENCY_IN_FLIGHT",
                    "a request with this Idempotency-Key is still being processed",
                ),
            };
        }
    }

    // The work runs in its own task: if the request deadline (or a client hang-up) drops this
    // future, the command still finishes and its answer is recorded under the key, so a retry
    // gets the real outcome instead of running the command a second time.
    let work = tokio::spawn(async move {
        let marks = Deferred::default();
        let answering = marks.collect(run(next, Request::from_parts(parts, Body::from(bytes))));
        // The claim is renewed beside the request, in the same task. The renewal is dropped
        // before the answer is recorded, and one already sent reaches Redis first (one
        // connection, in order), so it cannot shorten the kept answer.
        let response = tokio::select! {
            biased;
            response = answering => response,
            never = renew_claim(redis.clone(), &redis_key) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
        record(&mut redis, &redis_key, fingerprint, &parts, &bytes, &marks).await;
        Response::from_parts(parts, Body::from(bytes))
    });
    work.await.unwrap_or_else(|e| ApiError::Internal(format!("request task failed: {e}")).into_response())
}

/// What makes two requests the same: SHA-256 of "METHOD /path\nbody" (the body as UTF-8, an
/// invalid byte as U+FFFD), hashed as it goes rather than copied into one string first.
fn fingerprint(method: &axum::http::Method, path: &str, body: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(method.as_str())
        .chain_update(" ")
        .chain_update(path)
        .chain_update("\n")
        .chain_update(String::from_utf8_lossy(body).as_bytes())
        .finalize();
    hex(&digest)
}

async fn run(route: Route, request: Request) -> Response {
    match tower::ServiceExt::oneshot(route, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Keeps the in-flight claim alive while its request runs (dropped when it ends).
async fn renew_claim(mut redis: redis::aio::ConnectionManager, redis_key: &str) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let renewed: redis::RedisResult<bool> = redis.expire(redis_key, IN_FLIGHT_SECONDS.cast_signed()).await;
        if let Err(e) = renewed {
            tracing::debug!(error = %e, "idempotency claim not renewed");
        }
    }
}

/// Whether an answer is final, so a retry should see it again rather than run again: not a 5xx,
/// not a 429, not a lost race (409 `CONFLICT`), and nothing that carries a credential.
fn worth_keeping(parts: &axum::http::response::Parts, body: &[u8]) -> bool {
    let status = parts.status;
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return false;
    }
    if parts.headers.contains_key(axum::http::header::SET_COOKIE)
        || parts.headers.get(axum::http::header::CACHE_CONTROL).is_some_and(|v| v.as_bytes() == b"no-store")
    {
        return false;
    }
    if status == StatusCode::CONFLICT {
        let code =
            serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v["code"].as_str().map(str::to_owned));
        return !matches!(code.as_deref(), Some("CONFLICT" | "IDEMPOTENCY_IN_FLIGHT"));
    }
    true
}

/// Keeps a final answer for a day; forgets any other so the client's retry runs again. The
/// request's read-your-writes `marks` go in the same round trip.
///
/// If Redis is away at that moment, the write is retried in the background until it lands (at
/// most as long as the in-flight claim lives): otherwise the claim made before the outage would
/// answer the client's retries with 409 `IDEMPOTENCY_IN_FLIGHT` for a minute after Redis is back
/// (found by the fault suite).
async fn record(
    redis: &mut redis::aio::ConnectionManager,
    redis_key: &str,
    fingerprint: String,
    parts: &axum::http::response::Parts,
    bytes: &[u8],
    marks: &Deferred,
) {
    let value = if worth_keeping(parts, bytes) {
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let record = Record::Done {
            fingerprint,
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(bytes).into_owned(),
            headers,
        };
        serde_json::to_string(&record).ok()
    } else {
        None
    };
    if settle(redis, redis_key, value.as_deref(), marks).await.is_ok() {
        return;
    }
    let (mut redis, redis_key, marks) = (redis.clone(), redis_key.to_owned(), marks.clone());
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(RECORD_RETRY_SECONDS);
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            if settle(&mut redis, &redis_key, value.as_deref(), &marks).await.is_ok() {
                return;
            }
        }
        tracing::warn!("idempotency record not stored: Redis stayed away");
    });
}

/// Stores the final answer `value` under the key, or forgets the key when there is none, with
/// the request's read-your-writes `marks`.
async fn settle(
    redis: &mut redis::aio::ConnectionManager,
    redis_key: &str,
    value: Option<&str>,
    marks: &Deferred,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    marks.add_to(&mut pipe);
    match value {
        Some(text) => pipe.set_ex(redis_key, text, KEEP_SECONDS).ignore(),
        None => pipe.del(redis_key).ignore(),
    };
    pipe.query_async(redis).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_the_hash_of_method_path_and_body_as_one_text() {
        // Records written before the fingerprint was hashed as it goes must still match.
        let body = br#"{"event_id":"e","section":"Floor","quantity":2}"#;
        let as_one_text = hashed(&format!("POST /api/reservations\n{}", String::from_utf8_lossy(body)));
        assert_eq!(fingerprint(&axum::http::Method::POST, "/api/reservations", body), as_one_text);
        let invalid = b"\xff\xfe{}";
        let lossy = hashed(&format!("POST /api/orders\n{}", String::from_utf8_lossy(invalid)));
        assert_eq!(fingerprint(&axum::http::Method::POST, "/api/orders", invalid), lossy);
        assert_ne!(
            fingerprint(&axum::http::Method::POST, "/api/reservations", b"{}"),
            fingerprint(&axum::http::Method::PUT, "/api/reservations", b"{}")
        );
    }
}
