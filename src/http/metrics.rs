//! `/metrics` in the Prometheus text format: HTTP requests and latency by matched route and
//! status, every domain event appended (by type: reservations created, completed, expired,
//! cancelled; payments captured and declined; ...), revenue captured and refunded, and, measured
//! at scrape time, projection and relay lag, live stream writers and database pool usage.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use crate::bus::EventBus;
use crate::projections;

/// The process-wide recorder (several apps in one test process share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours just stays empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

/// Counts and times every request, labelled by the route it matched (not the raw path, so ids
/// do not explode the label space).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

// Prometheus gauges are floats; counts here stay far below 2^52.
#[allow(clippy::cast_precision_loss)]
/// Prometheus text format. Served on the operators' listener only, so it is not in the public
/// API document.
async fn render(State(state): State<AppState>) -> Response {
    let store = state.runtime.store();
    for projector in projections::all() {
        if let Ok(lag) = projections::lag(store, &state.projections, projector.name()).await {
            metrics::gauge!("projection_lag_events", "projector" => projector.name()).set(lag as f64);
        }
    }
    if let Ok(lag) = projections::lag(store, &state.projections, "notifications").await {
        metrics::gauge!("projection_lag_events", "projector" => "notifications").set(lag as f64);
    }
    if let Ok(lag) = projections::lag(store, &state.analytics, "analytics").await {
        metrics::gauge!("projection_lag_events", "projector" => "analytics").set(lag as f64);
    }
    if let EventBus::Kafka { .. } = state.bus
        && let Ok(lag) = crate::bus::relay::lag(store, "kafka").await
    {
        metrics::gauge!("relay_lag_events").set(lag as f64);
    }
    if let Ok(pending) = crate::store::effects::pending_count(store.pool()).await {
        metrics::gauge!("effects_pending").set(pending as f64);
    }
    if let Ok(parked) = crate::store::effects::parked_counts(store.pool()).await {
        for kind in ["command", "charge", "refund"] {
            let count = parked.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
            metrics::gauge!("effects_parked", "kind" => kind).set(count as f64);
        }
    }
    metrics::gauge!("stream_writers_live").set(state.runtime.live_writers() as f64);
    for (name, pool) in [
        ("events", &state.events_db),
        ("projections", &state.projections),
        ("analytics", &state.analytics),
        ("auth", state.auth.users_db()),
    ] {
        metrics::gauge!("db_pool_connections", "database" => name, "state" => "open").set(f64::from(pool.size()));
        metrics::gauge!("db_pool_connections", "database" => name, "state" => "idle").set(pool.num_idle() as f64);
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}
