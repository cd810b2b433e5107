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
pub mod layers;
pub mod live;
pub mod meta;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod orders;
pub mod paging;
pub mod passkeys;
pub mod rate_limit;
pub mod reservations;
pub mod session;
pub mod tickets;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request};
use sqlx::PgPool;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

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

/// The operators' listener (`METRICS_ADDR`): `/metrics` and the detailed readiness report.
pub fn operations_router(state: AppState) -> Router {
    Router::new().merge(metrics::router()).merge(health::detailed_router()).with_state(state)
}

/// The whole application: its routes, with the layers every request goes through wrapped once
/// around the router. (`Router::layer` would wrap each route in its own boxed copy of them, which
/// the router clones for every request.)
pub fn router(
    state: AppState,
) -> impl tower::Service<
    Request<axum::body::Body>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone
+ Send
+ Sync
+ 'static {
    use axum::response::IntoResponse;
    // No origins configured: no CORS layer at all (a browser then allows same-origin calls
    // only), rather than one that refuses everything.
    let cors = (!state.config.cors_origins.is_empty()).then(|| {
        let origins: Vec<HeaderValue> = state.config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(tower_http::cors::Any)
            .allow_headers(tower_http::cors::Any)
    });
    let routes = Router::new()
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
        .route_layer(layers::MatchedLayer { state: state.clone() })
        .fallback(web::fallback)
        .with_state(state.clone());
    tower::ServiceBuilder::new()
        // Outermost: every request has its id and span before anything logs.
        .layer(layers::EdgeLayer { state })
        .map_response(IntoResponse::into_response)
        // 64 KiB is far above any legitimate body here; a 1 MB name is refused before parsing,
        // through our JSON extractor, so in our error format.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(tower::util::option_layer(cors))
        .layer(CompressionLayer::new())
        .service(routes)
}
