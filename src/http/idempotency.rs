//! `Idempotency-Key` on POST requests (API.md): the first request's status and body are kept
//! for 24 hours per (user, key). A replay gets them back unchanged with
//! `Idempotent-Replayed: true`; the same key with a different request is 422
//! `IDEMPOTENCY_KEY_REUSED`; a replay while the first is still running is 409
//! `IDEMPOTENCY_IN_FLIGHT`. Answers of 5xx are not kept, so a retry after an outage runs again.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::auth::{SignedIn, bearer_token};
use super::error::ApiError;
use crate::auth::hashed;

const HEADER: &str = "idempotency-key";
const KEEP_SECONDS: u64 = 24 * 60 * 60;
/// A request still "in flight" after this long is assumed dead (its process crashed).
const IN_FLIGHT_SECONDS: u64 = 60;
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Record {
    InFlight { fingerprint: String },
    Done { fingerprint: String, status: u16, body: String },
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "code": code, "message": message }))).into_response()
}

pub async fn middleware(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER).map(|v| v.to_str().map(str::to_owned)) else {
        return next.run(request).await;
    };
    let key = match key {
        Ok(k) if (1..=255).contains(&k.len()) => k,
        _ => {
            return ApiError::InvalidRequest("Idempotency-Key must be 1 to 255 visible characters".into())
                .into_response();
        }
    };
    // Per user: the session's user, or the caller's bearer token for anything else.
    let token = bearer_token(request.headers()).unwrap_or_default().to_owned();
    let owner = match state.auth.session(&token, state.runtime.clock().now()).await {
        Ok(Some((user, expires_at))) => {
            let owner = user.id.to_string();
            // The handler's `SignedIn` takes it from here instead of asking Redis again.
            request.extensions_mut().insert(SignedIn { user, token: token.clone(), expires_at });
            owner
        }
        Ok(None) => format!("anonymous:{}", hashed(&token)),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError::InvalidRequest("request body too large".into()).into_response();
    };
    let fingerprint = hashed(&format!("{} {}\n{}", parts.method, parts.uri.path(), String::from_utf8_lossy(&bytes)));
    let redis_key = format!("{}idempotency:{owner}:{}", state.auth.prefix(), hashed(&key));
    let mut redis = state.auth.redis();

    let claim = serde_json::to_string(&Record::InFlight { fingerprint: fingerprint.clone() }).unwrap_or_default();
    let claimed: Result<bool, _> = redis::cmd("SET")
        .arg(&redis_key)
        .arg(&claim)
        .arg("NX")
        .arg("EX")
        .arg(IN_FLIGHT_SECONDS)
        .query_async::<Option<String>>(&mut redis)
        .await
        .map(|r| r.is_some());
    match claimed {
        Err(e) => return ApiError::unavailable("redis", e).into_response(),
        Ok(false) => {
            let existing: Option<String> = match redis.get(&redis_key).await {
                Ok(v) => v,
                Err(e) => return ApiError::unavailable("redis", e).into_response(),
            };
            return match existing.and_then(|s| serde_json::from_str::<Record>(&s).ok()) {
                Some(Record::InFlight { fingerprint: f } | Record::Done { fingerprint: f, .. }) if f != fingerprint => {
                    refusal(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "IDEMPOTENCY_KEY_REUSED",
                        "this Idempotency-Key was used for a different request",
                    )
                }
                Some(Record::Done { status, body, .. }) => {
                    let mut response = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
                    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
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
        Ok(true) => {}
    }

    // The work runs in its own task: if the request deadline (or a client hang-up) drops this
    // future, the command still finishes and its answer is recorded under the key, so a retry
    // gets the real outcome instead of running the command a second time.
    let work = tokio::spawn(async move {
        let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
        record(&mut redis, &redis_key, fingerprint, &parts, &bytes).await;
        Response::from_parts(parts, Body::from(bytes))
    });
    work.await.unwrap_or_else(|e| ApiError::Internal(format!("request task failed: {e}")).into_response())
}

/// Keeps a finished answer for a day; forgets a 5xx so the client's retry runs again.
async fn record(
    redis: &mut redis::aio::ConnectionManager,
    redis_key: &str,
    fingerprint: String,
    parts: &axum::http::response::Parts,
    bytes: &[u8],
) {
    if parts.status.is_server_error() {
        let _: Result<i64, _> = redis.del(redis_key).await;
    } else {
        let record = Record::Done {
            fingerprint,
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(bytes).into_owned(),
        };
        if let Ok(text) = serde_json::to_string(&record) {
            let stored: Result<(), _> = redis.set_ex(redis_key, text, KEEP_SECONDS).await;
            if let Err(e) = stored {
                tracing::warn!(error = %e, "idempotency record not stored");
            }
        }
    }
}
