//! `/health` (the process lives) and `/health/ready` (every dependency answers).

use super::openapi::schema;
use std::time::Instant;

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

#[utoipa::path(get, path = "/health/ready", tag = "operations", responses((status = 200, description = "Every dependency answers", body = schema::Readiness), (status = 503, description = "Degraded: the failing checks say which", body = schema::Readiness)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
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
