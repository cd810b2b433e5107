//! `/metrics` in the Prometheus text format: HTTP requests and latency by matched route and
//! status, every domain event appended (by type: reservations created, completed, expired,
//! cancelled; payments captured and declined; ...), revenue captured and refunded, and, measured
//! at scrape time, projection and relay lag, live stream writers and database pool usage.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use crate::bus::EventBus;
use crate::projections;

/// How often the recorder folds the samples its histograms gathered into their summaries.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process-wide recorder (several apps in one test process share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours just stays empty.
        let _ = metrics::set_global_recorder(recorder);
        spawn_upkeep(handle.clone());
        handle
    })
}

/// A recorder built this way keeps every histogram sample (each request's duration, each group
/// commit's size) until something drains it: a scrape, or this upkeep. Without it a server that
/// nobody scrapes grows with every request it answers. A thread of its own, not a task: the
/// recorder outlives any one runtime (tests start many).
fn spawn_upkeep(handle: PrometheusHandle) {
    let upkeep = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        }
    });
    if let Err(error) = upkeep {
        tracing::error!(%error, "metrics upkeep not started: histogram samples are kept until a scrape");
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

/// Counts and times a request, labelled by the route it matched (not the raw path, so ids do
/// not explode the label space). Called by `layers::Matched` for every matched request.
pub fn record(method: &axum::http::Method, route: &str, status: u16, elapsed: std::time::Duration) {
    RequestMetrics::with(method, route, status, |m| {
        m.requests.increment(1);
        m.duration.record(elapsed.as_secs_f64());
    });
}

/// A route's (method, status) pair and its handles.
type Seen = (axum::http::Method, u16, RequestMetrics);

/// One (method, route, status)'s counter and histogram. Building their labels and finding them
/// in the registry on every request cost more than the request itself on a cheap route: each
/// worker thread keeps the handles it has used (a few dozen routes and statuses at most).
struct RequestMetrics {
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

impl RequestMetrics {
    fn with(method: &axum::http::Method, route: &str, status: u16, f: impl FnOnce(&Self)) {
        use std::cell::RefCell;
        use std::collections::HashMap;
        thread_local! {
            /// By route, then the route's few (method, status) pairs.
            static KNOWN: RefCell<HashMap<String, Vec<Seen>>> =
                RefCell::new(HashMap::new());
        }
        KNOWN.with_borrow_mut(|known| {
            // Looked up by reference: only a combination not seen before allocates.
            if !known.contains_key(route) {
                known.insert(route.to_owned(), Vec::new());
            }
            let Some(pairs) = known.get_mut(route) else { return };
            if let Some((_, _, handles)) = pairs.iter().find(|(m, s, _)| *s == status && m == method) {
                return f(handles);
            }
            let handles = Self {
                requests: metrics::counter!("http_requests_total",
                    "method" => method.to_string(), "route" => route.to_owned(), "status" => status.to_string()),
                duration: metrics::histogram!("http_request_duration_seconds",
                    "method" => method.to_string(), "route" => route.to_owned()),
            };
            f(&handles);
            pairs.push((method.clone(), status, handles));
        });
    }
}

// Prometheus gauges are floats; counts here stay far below 2^52.
#[allow(clippy::cast_precision_loss)]
/// Prometheus text format. Served on the operators' listener only, so it is not in the public
/// API document.
async fn render(State(state): State<AppState>) -> Response {
    let store = state.runtime.store();
    for (projector, lag) in projections::lags(store, &state.projections, &state.analytics).await {
        if let Ok(lag) = lag {
            metrics::gauge!("projection_lag_events", "projector" => projector).set(lag as f64);
        }
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
