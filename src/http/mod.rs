//! The HTTP interface: one module per resource, each with its own `router()`, merged here with
//! the layers every request goes through (request id, tracing, timeout, body limit,
//! compression, CORS).

pub mod analytics;
pub mod auth;
pub mod error;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod live;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod passkeys;
pub mod reservations;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request};
use sqlx::PgPool;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::Auth;
use crate::auth::mail::Mailer;
use crate::auth::oidc::Oidc;
use crate::auth::passkey::Passkeys;
use crate::bus::EventBus;
use crate::config::Config;
use crate::live::AvailabilityFeed;
use crate::runtime::Runtime;

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub runtime: Runtime,
    pub events_db: PgPool,
    pub projections: PgPool,
    pub analytics: PgPool,
    pub bus: EventBus,
    pub auth: Auth,
    pub mailer: Mailer,
    pub passkeys: Passkeys,
    pub oidc: Oidc,
    pub live: AvailabilityFeed,
    pub config: Arc<Config>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("bus", &self.bus.name()).finish_non_exhaustive()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// No answer within `REQUEST_TIMEOUT_SECONDS`: 503 in our format. The outcome of a write is then
/// unknown to the client; with an `Idempotency-Key` its retry gets the real outcome (the work
/// goes on in its own task, see `idempotency`).
async fn deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let limit = Duration::from_secs(state.config.request_timeout_seconds);
    tokio::time::timeout(limit, next.run(request)).await.unwrap_or_else(|_| {
        let cause = format!("no answer within {} s", limit.as_secs());
        axum::response::IntoResponse::into_response(error::ApiError::unavailable("request_deadline", cause))
    })
}

/// The whole application's routes and layers.
pub fn router(state: AppState) -> Router {
    let cors = if state.config.cors_origins.is_empty() {
        CorsLayer::new()
    } else {
        let origins: Vec<HeaderValue> = state.config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(tower_http::cors::Any)
            .allow_headers(tower_http::cors::Any)
    };
    Router::new()
        .merge(health::router())
        .merge(auth::router(state.clone()))
        .merge(events::router())
        .merge(reservations::router())
        .merge(tickets::router())
        .merge(analytics::router())
        .merge(metrics::router())
        .merge(live::router())
        .merge(openapi::router())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::middleware))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .with_state(state.clone())
        .layer(CompressionLayer::new())
        .layer(cors)
        // 64 KiB is far above any legitimate body here; a 1 MB name is refused before parsing,
        // through our JSON extractor, so in our error format.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(state, deadline))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %request_id)
        }))
        // Outermost: every request has an id before anything logs.
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
