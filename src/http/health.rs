//! `/health` (the process lives) and `/health/ready` (every dependency answers).
//!
//! The public readiness answer names the dependency that is down, without the driver's words
//! (which can describe hosts and users), and is computed at most once a second however often it
//! is asked. The operators' listener has the same report with the errors, always fresh.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;
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
pub struct ReadinessCache(Arc<Mutex<Option<(Instant, StatusCode, Readiness)>>>);

const READINESS_FRESH_FOR: Duration = Duration::from_secs(1);
/// A dependency that has not answered within this long is down as far as readiness goes.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(live, ready), components(schemas(Health, Readiness, Check)))]
pub(super) struct Doc;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// One dependency's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = CheckResult)]
pub struct Check {
    pub ok: bool,
    pub latency_ms: u64,
    /// Operators' listener only: what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `degraded`.
    pub status: &'static str,
    /// `events_db`, `projections_db`, `analytics_db`, `auth_db`, `redis`, `bus`.
    pub checks: BTreeMap<&'static str, Check>,
}

#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "The process is alive", body = Health)))]
async fn live() -> Json<Health> {
    Json(Health { status: "ok" })
}

fn check(started: Instant, result: Result<(), String>) -> Check {
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Check { ok: result.is_ok(), latency_ms, error: result.err() }
}

async fn timed<E: std::fmt::Display>(probe: impl Future<Output = Result<(), E>>) -> Check {
    let started = Instant::now();
    let result = match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    };
    check(started, result)
}

async fn database(pool: &PgPool) -> Check {
    timed(async { sqlx::query("SELECT 1").execute(pool).await.map(|_| ()) }).await
}

async fn bus(bus: &EventBus) -> Check {
    match bus {
        // The in-process bus is the event store itself.
        EventBus::InProcess(tail) => {
            let position = crate::store::LogPosition { transaction_id: i64::MAX, position: 0 };
            timed(async { tail.store().count_after(position).await.map(|_| ()) }).await
        }
        EventBus::Kafka { settings, .. } => {
            let settings = settings.clone();
            let started = Instant::now();
            let result = tokio::task::spawn_blocking(move || crate::bus::kafka::probe(&settings)).await;
            check(started, result.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())))
        }
    }
}

#[utoipa::path(get, path = "/health/ready", tag = "operations", responses((status = 200, description = "Every dependency answers (checked at most once a second)", body = Readiness), (status = 503, description = "Degraded: the failing checks say which (`ok: false`)", body = Readiness)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
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
    let (status, mut body) = probe(&state).await;
    for check in body.checks.values_mut() {
        check.error = None;
    }
    *state.readiness.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), status, body.clone()));
    (status, Json(body))
}

async fn ready_detailed(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (status, body) = probe(&state).await;
    (status, Json(body))
}

/// Asks every dependency once.
async fn probe(state: &AppState) -> (StatusCode, Readiness) {
    let (events_db, projections_db, analytics_db, auth_db, redis, bus) = tokio::join!(
        database(&state.events_db),
        database(&state.projections),
        database(&state.analytics),
        database(state.auth.users_db()),
        timed(state.auth.ping()),
        bus(&state.bus),
    );
    let checks = BTreeMap::from([
        ("events_db", events_db),
        ("projections_db", projections_db),
        ("analytics_db", analytics_db),
        ("auth_db", auth_db),
        ("redis", redis),
        ("bus", bus),
    ]);
    let healthy = checks.values().all(|c| c.ok);
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Readiness { status: if healthy { "ready" } else { "degraded" }, checks })
}
