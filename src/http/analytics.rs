//! Customer history and lifetime value (owner or admin), per-event sales (admin), and the
//! dashboards over the analytics star schema (admin). All read models: they may lag a moment.

use super::openapi::schema;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::consistency;
use super::error::{ApiError, Json, Path, Query, Result};
use super::paging::PageQuery;
use super::session::{AdminUser, SignedIn};
use crate::analytics::queries;
use crate::domain::DomainError;
use crate::projections::{reservations as read_model, sales};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/customers/{id}/history", get(history))
        .route("/api/customers/{id}/lifetime-value", get(lifetime_value))
        .route("/api/events/{id}/analytics", get(event_analytics))
        .route("/api/analytics/sales/time-series", get(time_series))
        .route("/api/analytics/events/top-sellers", get(top_sellers))
        .route("/api/analytics/customers/segments", get(segments))
        .route("/api/analytics/sections/popularity", get(popularity))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(history, lifetime_value, event_analytics, time_series, top_sellers, segments, popularity))]
pub(super) struct Doc;

fn analytics_down(error: sqlx::Error) -> ApiError {
    ApiError::unavailable("analytics_db", error)
}

/// A customer's own data is theirs and admins' only; anyone else gets "not found".
fn may_see(signed_in: &SignedIn, customer: Uuid) -> Result<()> {
    if signed_in.user.id == customer || signed_in.user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::NotFound("NOT_FOUND", "no such customer"))
    }
}

#[utoipa::path(get, path = "/api/customers/{id}/history", tag = "analytics", security(("session" = [])), params(("id" = Uuid, Path), PageQuery), responses((status = 200, body = schema::PurchaseHistory), (status = 404, description = "NOT_FOUND: not you (admins see everyone)", body = schema::ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<Uuid>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>> {
    may_see(&signed_in, id)?;
    let page = q.page()?;
    consistency::caught_up(&state, signed_in.user.id, consistency::RESERVATIONS).await?;
    let (purchases, total) = read_model::history(&state.projections, id, page).await?;
    Ok(Json(json!({ "purchases": purchases, "page": page.page, "per_page": page.per_page, "total": total })))
}

#[utoipa::path(get, path = "/api/customers/{id}/lifetime-value", tag = "analytics", security(("session" = [])), params(("id" = Uuid, Path, description = "Customer (user) id")), responses((status = 200, body = schema::LifetimeValue), (status = 404, description = "NOT_FOUND: not you (admins see everyone)", body = schema::ErrorBody)))]
async fn lifetime_value(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    may_see(&signed_in, id)?;
    consistency::caught_up(&state, signed_in.user.id, consistency::RESERVATIONS).await?;
    Ok(Json(match read_model::lifetime_value(&state.projections, id).await? {
        Some(value) => json!(value),
        None => {
            json!({ "customer_id": id, "purchases": 0, "tickets": 0, "spent_cents": 0, "refunded_cents": 0, "net_cents": 0,
                        "favourite_section": null, "first_purchase_at": null, "last_purchase_at": null })
        }
    }))
}

#[utoipa::path(get, path = "/api/events/{id}/analytics", tag = "analytics", security(("session" = [])), params(("id" = Uuid, Path)), responses((status = 200, body = schema::EventSales), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody)))]
async fn event_analytics(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    if crate::projections::catalogue::get(&state.projections, id).await?.is_none() {
        return Err(DomainError::EventNotFound.into());
    }
    let sales = sales::for_event(&state.projections, id).await?;
    let mut by_section = serde_json::Map::new();
    let mut by_tier = serde_json::Map::new();
    for line in &sales.lines {
        for (map, key) in [(&mut by_section, &line.section), (&mut by_tier, &line.pricing_tier)] {
            let entry = map
                .entry(key.clone())
                .or_insert_with(|| json!({ "tickets_sold": 0, "revenue_cents": 0, "refunds_cents": 0 }));
            entry["tickets_sold"] = json!(entry["tickets_sold"].as_i64().unwrap_or(0) + i64::from(line.tickets_sold));
            entry["revenue_cents"] = json!(entry["revenue_cents"].as_i64().unwrap_or(0) + line.revenue_cents);
            entry["refunds_cents"] = json!(entry["refunds_cents"].as_i64().unwrap_or(0) + line.refunds_cents);
        }
    }
    Ok(Json(json!({
        "event_id": id,
        "tickets_sold": sales.tickets_sold,
        "revenue_cents": sales.net_revenue_cents,
        "gross_revenue_cents": sales.gross_revenue_cents,
        "refunds_cents": sales.refunds_cents,
        "average_price_cents": sales.average_price_cents,
        "by_section": by_section,
        "by_tier": by_tier,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SeriesQuery {
    event_id: Option<Uuid>,
    days: Option<i32>,
}

#[utoipa::path(get, path = "/api/analytics/sales/time-series", tag = "analytics", security(("session" = [])), params(SeriesQuery), responses((status = 200, description = "`{days: [...]}`", body = schema::Dashboard), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody)))]
async fn time_series(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<Value>> {
    let days = q.days.unwrap_or(30);
    if !(1..=3_650).contains(&days) {
        return Err(DomainError::validation("days", "must be between 1 and 3650").into());
    }
    let series = queries::sales_time_series(&state.analytics, q.event_id, days).await.map_err(analytics_down)?;
    Ok(Json(json!({ "days": series })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/analytics/events/top-sellers", tag = "analytics", security(("session" = [])), params(LimitQuery), responses((status = 200, description = "`{events: [...]}`", body = schema::Dashboard), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody)))]
async fn top_sellers(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<LimitQuery>,
) -> Result<Json<Value>> {
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(DomainError::validation("limit", "must be between 1 and 100").into());
    }
    Ok(Json(json!({ "events": queries::top_sellers(&state.analytics, limit).await.map_err(analytics_down)? })))
}

#[utoipa::path(get, path = "/api/analytics/customers/segments", tag = "analytics", security(("session" = [])), responses((status = 200, description = "`{segments: [...]}`", body = schema::Dashboard), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody)))]
async fn segments(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<Value>> {
    Ok(Json(json!({ "segments": queries::customer_segments(&state.analytics).await.map_err(analytics_down)? })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventFilter {
    event_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/analytics/sections/popularity", tag = "analytics", security(("session" = [])), params(EventFilter), responses((status = 200, description = "`{sections: [...]}`", body = schema::Dashboard), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody)))]
async fn popularity(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<EventFilter>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({ "sections": queries::section_popularity(&state.analytics, q.event_id).await.map_err(analytics_down)? }),
    ))
}
