//! `/health` (the process lives) and `/health/ready` (every dependency answers).
//!
//! The public readiness answer names the dependency that is down, without the driver's words
//! (which can describe hosts and users), and is computed at most once a second however often it
//! is asked. The operators' listener has the same report with the errors, always fresh.

use super::openapi::schema;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::AppState;
use super::error::Json;
use crate::bus::EventBus;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(live)).route("/health/ready", get(ready))
}

/// `/health/ready` with each failing check's error, for the operators' listener.
pub fn detailed_router() -> Router<AppState> {
    Router::new().route("/health/ready", get(ready_detailed))
}

/// The last public readiness answer and when it was made.
#[derive(Debug, Clone, Default)]
pub struct ReadinessCache(Arc<Mutex<Option<(Instant, StatusCode, Value)>>>);

const READINESS_FRESH_FOR: Duration = Duration::from_secs(1);

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(live, ready))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "The process is alive", body = schema::Health)))]
async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

fn check(started: Instant, result: Result<(), String>) -> Value {
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(()) => json!({ "ok": true, "latency_ms": latency_ms }),
        Err(error) => json!({ "ok": false, "latency_ms": latency_ms, "error": error }),
    }
}

async fn database(pool: &PgPool) -> Value {
    let started = Instant::now();
    let result = tokio::time::timeout(std::time::Duration::from_secs(2), sqlx::query("SELECT 1").execute(pool)).await;
    check(
        started,
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".into()),
        },
    )
}

async fn bus(bus: &EventBus) -> Value {
    let started = Instant::now();
    match bus {
        // The in-process bus is the event store itself.
        EventBus::InProcess(store) => {
            let result = store.count_after(crate::store::LogPosition { transaction_id: i64::MAX, position: 0 }).await;
            check(started, result.map(|_| ()).map_err(|e| e.to_string()))
        }
        EventBus::Kafka { settings, .. } => {
            let settings = settings.clone();
            let result = tokio::task::spawn_blocking(move || crate::bus::kafka::probe(&settings)).await;
            check(started, result.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())))
        }
    }
}

#[utoipa::path(get, path = "/health/ready", tag = "operations", responses((status = 200, description = "Every dependency answers (checked at most once a second)", body = schema::Readiness), (status = 503, description = "Degraded: the failing checks say which (`ok: false`)", body = schema::Readiness)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let cached = state
        .readiness
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .filter(|(at, _, _)| at.elapsed() < READINESS_FRESH_FOR);
    if let Some((_, status, body)) = cached {
        return (status, Json(body));
    }
    let (status, Json(mut body)) = probe(&state).await;
    if let Some(checks) = body["checks"].as_object_mut() {
        for check in checks.values_mut().filter_map(Value::as_object_mut) {
            check.remove("error");
        }
    }
    *state.readiness.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), status, body.clone()));
    (status, Json(body))
}

async fn ready_detailed(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    probe(&state).await
}

/// Asks every dependency once.
async fn probe(state: &AppState) -> (StatusCode, Json<Value>) {
    let redis = async {
        let started = Instant::now();
        let result = tokio::time::timeout(std::time::Duration::from_secs(2), state.auth.ping()).await;
        check(
            started,
            match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".into()),
            },
        )
    };
    let (events_db, projections_db, analytics_db, auth_db, redis, bus) = tokio::join!(
        database(&state.events_db),
        database(&state.projections),
        database(&state.analytics),
        database(state.auth.users_db()),
        redis,
        bus(&state.bus),
    );
    let checks = json!({
        "events_db": events_db, "projections_db": projections_db, "analytics_db": analytics_db,
        "auth_db": auth_db, "redis": redis, "bus": bus,
    });
    let healthy = checks.as_object().is_some_and(|c| c.values().all(|v| v["ok"] == json!(true)));
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "status": if healthy { "ready" } else { "degraded" }, "checks": checks })))
}
