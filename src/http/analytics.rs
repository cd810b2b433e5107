//! Customer history and lifetime value (owner or admin), per-event sales (admin), and the
//! dashboards over the analytics star schema (admin). All read models: they may lag a moment.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::consistency;
use super::error::{ApiError, ErrorBody, Json, Path, Query, Result};
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
#[openapi(
    paths(history, lifetime_value, event_analytics, time_series, top_sellers, segments, popularity),
    components(schemas(
        PurchaseHistory,
        read_model::Purchase,
        read_model::LifetimeValue,
        EventSales,
        SalesLine,
        TimeSeries,
        queries::DailySales,
        TopSellers,
        queries::TopEvent,
        Segments,
        queries::Segment,
        Popularity,
        queries::SectionPopularity
    ))
)]
pub(super) struct Doc;

/// A customer's purchases, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurchaseHistory {
    pub purchases: Vec<read_model::Purchase>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// Tickets, revenue and refunds of one slice of an event's sales.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct SalesLine {
    pub tickets_sold: i64,
    pub revenue_cents: i64,
    pub refunds_cents: i64,
}

/// An event's sales (read model): totals, by section and by price tier.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventSales {
    pub event_id: Uuid,
    pub tickets_sold: i64,
    /// Net of refunds.
    pub revenue_cents: i64,
    pub gross_revenue_cents: i64,
    pub refunds_cents: i64,
    pub average_price_cents: i64,
    pub by_section: BTreeMap<String, SalesLine>,
    /// By `early_bird`, `regular`, `last_minute`.
    pub by_tier: BTreeMap<String, SalesLine>,
    /// Tickets let in at the door, of the valid ones.
    pub tickets_admitted: i64,
    pub tickets_valid: i64,
    /// What cancelling the event would refund in full: paid orders, and their money.
    pub paid_orders: i64,
    pub refundable_cents: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeSeries {
    pub days: Vec<queries::DailySales>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TopSellers {
    pub events: Vec<queries::TopEvent>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Segments {
    pub segments: Vec<queries::Segment>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Popularity {
    pub sections: Vec<queries::SectionPopularity>,
}

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

#[utoipa::path(get, path = "/api/customers/{id}/history", tag = "analytics", security(("session" = [])), params(("id" = Uuid, Path), PageQuery), responses((status = 200, body = PurchaseHistory), (status = 404, description = "NOT_FOUND: not you (admins see everyone)", body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<Uuid>,
    Query(q): Query<PageQuery>,
) -> Result<Json<PurchaseHistory>> {
    may_see(&signed_in, id)?;
    let page = q.page()?;
    consistency::caught_up(&state, signed_in.user.id, consistency::RESERVATIONS).await?;
    let (purchases, total) = read_model::history(&state.projections, id, page).await?;
    Ok(Json(PurchaseHistory { purchases, page: page.page, per_page: page.per_page, total }))
}

#[utoipa::path(get, path = "/api/customers/{id}/lifetime-value", tag = "analytics", security(("session" = [])), params(("id" = Uuid, Path, description = "Customer (user) id")), responses((status = 200, body = read_model::LifetimeValue), (status = 404, description = "NOT_FOUND: not you (admins see everyone)", body = ErrorBody)))]
async fn lifetime_value(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<read_model::LifetimeValue>> {
    may_see(&signed_in, id)?;
    consistency::caught_up(&state, signed_in.user.id, consistency::RESERVATIONS).await?;
    let value = read_model::lifetime_value(&state.projections, id).await?;
    Ok(Json(value.unwrap_or_else(|| read_model::LifetimeValue::none_yet(id))))
}

#[utoipa::path(get, path = "/api/events/{id}/analytics", tag = "analytics", security(("session" = [])), params(("id" = Uuid, Path)), responses((status = 200, body = EventSales), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody)))]
async fn event_analytics(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Json<EventSales>> {
    if crate::projections::catalogue::get(&state.projections, id).await?.is_none() {
        return Err(DomainError::EventNotFound.into());
    }
    let sales = sales::for_event(&state.projections, id).await?;
    let (tickets_admitted, tickets_valid) = read_model::admissions(&state.projections, id).await?;
    let (paid_orders, refundable_cents) = read_model::refundable(&state.projections, id).await?;
    let mut by_section: BTreeMap<String, SalesLine> = BTreeMap::new();
    let mut by_tier: BTreeMap<String, SalesLine> = BTreeMap::new();
    for line in &sales.lines {
        for entry in
            [by_section.entry(line.section.clone()).or_default(), by_tier.entry(line.pricing_tier.clone()).or_default()]
        {
            entry.tickets_sold += i64::from(line.tickets_sold);
            entry.revenue_cents += line.revenue_cents;
            entry.refunds_cents += line.refunds_cents;
        }
    }
    Ok(Json(EventSales {
        event_id: id,
        tickets_sold: sales.tickets_sold,
        revenue_cents: sales.net_revenue_cents,
        gross_revenue_cents: sales.gross_revenue_cents,
        refunds_cents: sales.refunds_cents,
        average_price_cents: sales.average_price_cents,
        by_section,
        by_tier,
        tickets_admitted,
        tickets_valid,
        paid_orders,
        refundable_cents,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SeriesQuery {
    event_id: Option<Uuid>,
    days: Option<i32>,
}

#[utoipa::path(get, path = "/api/analytics/sales/time-series", tag = "analytics", security(("session" = [])), params(SeriesQuery), responses((status = 200, description = "Tickets and net revenue per day, oldest first", body = TimeSeries), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody)))]
async fn time_series(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<TimeSeries>> {
    let days = q.days.unwrap_or(30);
    if !(1..=3_650).contains(&days) {
        return Err(DomainError::validation("days", "must be between 1 and 3650").into());
    }
    let series = queries::sales_time_series(&state.analytics, q.event_id, days).await.map_err(analytics_down)?;
    Ok(Json(TimeSeries { days: series }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/analytics/events/top-sellers", tag = "analytics", security(("session" = [])), params(LimitQuery), responses((status = 200, description = "Events by net revenue, best first", body = TopSellers), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody)))]
async fn top_sellers(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<LimitQuery>,
) -> Result<Json<TopSellers>> {
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(DomainError::validation("limit", "must be between 1 and 100").into());
    }
    Ok(Json(TopSellers { events: queries::top_sellers(&state.analytics, limit).await.map_err(analytics_down)? }))
}

#[utoipa::path(get, path = "/api/analytics/customers/segments", tag = "analytics", security(("session" = [])), responses((status = 200, description = "Customers by segment", body = Segments), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody)))]
async fn segments(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<Segments>> {
    Ok(Json(Segments { segments: queries::customer_segments(&state.analytics).await.map_err(analytics_down)? }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventFilter {
    event_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/analytics/sections/popularity", tag = "analytics", security(("session" = [])), params(EventFilter), responses((status = 200, description = "Sections by tickets sold", body = Popularity), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody)))]
async fn popularity(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<EventFilter>,
) -> Result<Json<Popularity>> {
    let sections = queries::section_popularity(&state.analytics, q.event_id).await.map_err(analytics_down)?;
    Ok(Json(Popularity { sections }))
}
