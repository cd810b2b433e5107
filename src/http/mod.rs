//! The HTTP interface: one module per resource, each with its own `router()`, merged here with
//! the layers every request goes through (request id, tracing, timeout, body limit,
//! compression, CORS, security headers). Operators' endpoints (`/metrics`, the detailed
//! readiness report) are served on a listener of their own (`operations_router`).

pub mod analytics;
pub mod auth;
pub mod checkin;
pub mod client_ip;
pub mod consistency;
pub mod error;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod live;
pub mod meta;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod orders;
pub mod paging;
pub mod passkeys;
pub mod reservations;
pub mod session;
pub mod tickets;
pub mod web;

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

/// Everything handlers share: one pointer, so cloning it per request costs a reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points to.
#[allow(missing_debug_implementations)] // AppState's Debug says what is worth saying
pub struct Shared {
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
    pub web: web::WebApp,
    pub tickets: crate::ticket_codes::TicketSigner,
    pub readiness: health::ReadinessCache,
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

/// Headers every answer carries: no MIME sniffing, no referrer to other sites, never framed,
/// HSTS on https. HTML gets the app's own policy (set by `web`); other answers a closed one.
async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    if state.config.is_https() {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
    response
}

/// The operators' listener (`METRICS_ADDR`): `/metrics` and the detailed readiness report.
pub fn operations_router(state: AppState) -> Router {
    Router::new().merge(metrics::router()).merge(health::detailed_router()).with_state(state)
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
        .merge(checkin::router())
        .merge(orders::router())
        .merge(meta::router())
        .merge(analytics::router())
        .merge(live::router())
        .merge(openapi::router())
        // Only requests that matched a route: an unknown URL can never fill Redis with keys.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::middleware))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(web::fallback)
        .with_state(state.clone())
        .layer(CompressionLayer::new())
        .layer(cors)
        // 64 KiB is far above any legitimate body here; a 1 MB name is refused before parsing,
        // through our JSON extractor, so in our error format.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(state.clone(), deadline))
        .layer(axum::middleware::from_fn_with_state(state, security_headers))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // The path only: query strings may carry secrets (OAuth codes and states).
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %request_id)
        }))
        // Outermost: every request has an id before anything logs.
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
