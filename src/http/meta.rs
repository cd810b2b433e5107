//! `GET /api/config`: what the web app needs to know about this deployment (how long holds last,
//! the limits, whether payments go to the test simulator, which sign-in providers exist).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::error::Json;
use crate::domain::values::Quantity;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/config", get(config))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(config), components(schemas(PublicConfig)))]
pub(super) struct Doc;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicConfig {
    /// How long seats are held for payment.
    pub hold_seconds: u32,
    /// Tickets in one order, at most.
    pub max_tickets_per_order: u8,
    /// Unpaid seats one customer may hold in one event at once.
    pub max_held_seats_per_customer: u8,
    /// `simulator`: payments go to the built-in test gateway (test cards work, real ones are not
    /// charged).
    pub payment_gateway: &'static str,
    /// Names of the OpenID providers one can sign in with.
    pub sign_in_providers: Vec<String>,
}

#[utoipa::path(get, path = "/api/config", tag = "operations", responses((status = 200, body = PublicConfig)))]
async fn config(State(state): State<AppState>) -> Json<PublicConfig> {
    let config = &state.config;
    Json(PublicConfig {
        hold_seconds: config.reservation_ttl_seconds,
        max_tickets_per_order: Quantity::MAX,
        max_held_seats_per_customer: config.max_held_seats_per_customer,
        payment_gateway: "simulator",
        sign_in_providers: config.oidc_providers.iter().map(|p| p.name.clone()).collect(),
    })
}
