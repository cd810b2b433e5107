//! `/api/events`: the catalogue and live availability (read models; they may lag the write side
//! by a moment, the purchase itself is decided by the inventory).
//!
//! Admins create and run events here too; those answers come from the write side.

use super::openapi::schema;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::consistency;
use super::error::{ApiError, Json, Path, Query, Result};
use super::session::{AdminUser, Viewer, cause_of};
use crate::domain::DomainError;
use crate::domain::event::{EventCommand, EventDetails, NewEvent};
use crate::domain::ids::EventId;
use crate::domain::money::Money;
use crate::domain::policy::PriceTier;
use crate::domain::seating::{SectionLayout, SectionSpec};
use crate::domain::values::{Category, EventName, SectionName, Venue};
use crate::domain::values::{EventDate, Timestamp};
use crate::projections::availability;
use crate::projections::catalogue::{self, CatalogueEntry};
use crate::store::stream_id;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/events", get(list).post(create))
        .route("/api/events/{id}", get(one))
        .route("/api/events/{id}/publish", post(publish))
        .route("/api/events/{id}/sales/open", post(open_sales))
        .route("/api/events/{id}/sales/close", post(close_sales))
        .route("/api/events/{id}/cancel", post(cancel))
        .route("/api/events/{id}/availability", get(event_availability))
        .route("/api/events/{id}/sections/{section}", get(section))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, one, create, publish, open_sales, close_sales, cancel, event_availability, section),
    components(schemas(CreateEvent, VenueInput, SectionInput, CancelEvent))
)]
pub(super) struct Doc;

pub const STATUSES: [&str; 6] = ["draft", "published", "sales_open", "sales_closed", "cancelled", "completed"];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Debug, Serialize)]
struct EventPage {
    events: Vec<Value>,
    page: i64,
    per_page: i64,
    total: i64,
}

/// An event as API.md shows it, with each section's price as of `now`.
pub fn event_json(entry: &CatalogueEntry, now: Timestamp) -> Value {
    let tier = PriceTier::at(EventDate::recorded(entry.starts_at), now);
    let sections: Vec<Value> = entry
        .sections
        .as_array()
        .map(|sections| {
            sections
                .iter()
                .map(|s| {
                    let base = s["base_price_cents"].as_u64().unwrap_or(0);
                    let current = tier.unit_price(Money::from_cents(base)).map_or(base, Money::cents);
                    let mut section = s.clone();
                    section["current_tier"] = json!(tier.as_str());
                    section["current_price_cents"] = json!(current);
                    section
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "event_id": entry.event_id,
        "name": entry.name,
        "date": entry.starts_at,
        "category": entry.category,
        "venue": { "name": entry.venue_name, "city": entry.venue_city, "country": entry.venue_country },
        "status": entry.status,
        "sections": sections,
        "created_at": entry.created_at,
    })
}

#[utoipa::path(get, path = "/api/events", tag = "events", params(ListQuery),
    responses((status = 200, description = "Read model; drafts only for admins", body = schema::EventPage)))]
async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<Json<EventPage>> {
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(20);
    if !(1..=10_000).contains(&page) {
        return Err(DomainError::validation("page", "must be between 1 and 10000").into());
    }
    if !(1..=100).contains(&per_page) {
        return Err(DomainError::validation("per_page", "must be between 1 and 100").into());
    }
    if query.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(DomainError::validation("status", format!("must be one of {}", STATUSES.join(", "))).into());
    }
    if let Some(user) = &viewer.0 {
        consistency::caught_up(&state, user.id, consistency::CATALOGUE).await?;
    }
    let (entries, total) =
        catalogue::list(&state.projections, query.status.as_deref(), viewer.is_admin(), page, per_page).await?;
    let now = state.runtime.clock().now();
    Ok(Json(EventPage { events: entries.iter().map(|e| event_json(e, now)).collect(), page, per_page, total }))
}

/// A public event: never-published ones do not exist for the public. The catalogue may not have
/// caught up with an event published a moment ago, so before saying "no such event" the event
/// log is asked (directly, not through a stream writer: a stranger's random ids must not start
/// writers).
pub(super) async fn public_event(state: &AppState, id: Uuid) -> Result<CatalogueEntry> {
    match catalogue::get(&state.projections, id).await? {
        Some(entry) if entry.published => return Ok(entry),
        _ => {}
    }
    let loaded = state
        .runtime
        .store()
        .load::<crate::domain::event::Event>(&stream_id::<crate::domain::event::Event>(id))
        .await
        .map_err(|e| ApiError::unavailable("events_db", e))?;
    match loaded.state.details() {
        Some(details) if details.status != crate::domain::event::EventStatus::Draft => Ok(catalogue_entry(details)),
        _ => Err(ApiError::Domain(DomainError::EventNotFound)),
    }
}

#[utoipa::path(get, path = "/api/events/{id}", tag = "events", params(("id" = Uuid, Path, description = "Event id")), responses((status = 200, body = schema::Event), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody)))]
async fn one(State(state): State<AppState>, viewer: Viewer, Path(id): Path<Uuid>) -> Result<Json<Value>> {
    let now = state.runtime.clock().now();
    if viewer.is_admin() {
        // Admins see drafts too, exactly as the write side has them.
        let details = state.runtime.event(EventId::from_uuid(id)).await?;
        return Ok(Json(details_json(&details, now)));
    }
    let entry = public_event(&state, id).await?;
    Ok(Json(event_json(&entry, now)))
}

/// An event as the write side has it, in the same shape as [`event_json`].
pub fn details_json(details: &EventDetails, now: Timestamp) -> Value {
    event_json(&catalogue_entry(details), now)
}

/// The catalogue's row for an event as the write side has it.
fn catalogue_entry(details: &EventDetails) -> CatalogueEntry {
    CatalogueEntry {
        event_id: details.event_id.as_uuid(),
        name: details.name.as_str().to_owned(),
        starts_at: details.date.starts_at(),
        category: details.category.as_str().to_owned(),
        venue_name: details.venue.name.clone(),
        venue_city: details.venue.city.clone(),
        venue_country: details.venue.country.clone(),
        status: details.status.as_str().to_owned(),
        published: details.status != crate::domain::event::EventStatus::Draft,
        sections: Value::Array(details.sections.iter().map(crate::projections::catalogue::section_json).collect()),
        created_at: details.created_at,
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VenueInput {
    name: String,
    city: Option<String>,
    country: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SectionInput {
    name: String,
    capacity: i64,
    seating: String,
    rows: Option<i64>,
    seats_per_row: Option<i64>,
    base_price_cents: i64,
}

/// API.md `CreateEvent`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEvent {
    name: String,
    #[schema(value_type = String, format = DateTime)]
    date: Timestamp,
    category: Option<String>,
    venue: VenueInput,
    sections: Vec<SectionInput>,
}

impl CreateEvent {
    fn parse(self) -> Result<NewEvent, DomainError> {
        let sections = self
            .sections
            .iter()
            .map(|s| {
                Ok(SectionSpec {
                    name: SectionName::parse(&s.name)?,
                    layout: SectionLayout::parse(&s.seating, s.capacity, s.rows, s.seats_per_row)?,
                    base_price: Money::positive("sections.base_price_cents", s.base_price_cents)?,
                })
            })
            .collect::<Result<Vec<_>, DomainError>>()?;
        Ok(NewEvent {
            name: EventName::parse(&self.name)?,
            date: self.date,
            category: self.category.as_deref().map(str::parse::<Category>).transpose()?.unwrap_or_default(),
            venue: Venue::parse(&self.venue.name, self.venue.city.as_deref(), self.venue.country.as_deref())?,
            sections,
        })
    }
}

#[utoipa::path(post, path = "/api/events", tag = "events", security(("session" = [])), request_body = CreateEvent,
    responses((status = 201, description = "A draft", body = schema::Event), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<CreateEvent>,
) -> Result<(StatusCode, Json<Value>)> {
    let new = body.parse()?;
    let event_id = EventId::from_uuid(Uuid::new_v4());
    let details = state.runtime.create_event(&cause_of(&admin), event_id, new).await?;
    consistency::wrote(&state, admin.id, &[stream_id::<crate::domain::event::Event>(event_id.as_uuid())]).await;
    Ok((StatusCode::CREATED, Json(details_json(&details, state.runtime.clock().now()))))
}

async fn change(state: &AppState, admin: &crate::auth::User, id: Uuid, command: EventCommand) -> Result<Json<Value>> {
    let details = state.runtime.change_event(&cause_of(admin), EventId::from_uuid(id), command).await?;
    consistency::wrote(state, admin.id, &[stream_id::<crate::domain::event::Event>(id)]).await;
    Ok(Json(details_json(&details, state.runtime.clock().now())))
}

#[utoipa::path(post, path = "/api/events/{id}/publish", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "draft → published", body = schema::Event), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION (details: from, action)", body = schema::ErrorBody)))]
async fn publish(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    change(&state, &admin, id, EventCommand::Publish).await
}

#[utoipa::path(post, path = "/api/events/{id}/sales/open", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "published or sales_closed → sales_open", body = schema::Event), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION (details: from, action)", body = schema::ErrorBody)))]
async fn open_sales(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    change(&state, &admin, id, EventCommand::OpenSales).await
}

#[utoipa::path(post, path = "/api/events/{id}/sales/close", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "sales_open → sales_closed", body = schema::Event), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION (details: from, action)", body = schema::ErrorBody)))]
async fn close_sales(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    change(&state, &admin, id, EventCommand::CloseSales).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelEvent {
    reason: String,
}

#[utoipa::path(post, path = "/api/events/{id}/cancel", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")), request_body = CancelEvent,
    responses((status = 200, description = "Cancelled; every sold ticket is refunded in full", body = schema::Event), (status = 403, description = "FORBIDDEN", body = schema::ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION, or within 24 h of the start", body = schema::ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<CancelEvent>,
) -> Result<Json<Value>> {
    change(&state, &admin, id, EventCommand::Cancel { reason: body.reason }).await
}

#[utoipa::path(get, path = "/api/events/{id}/availability", tag = "events", params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "Read model (may lag a moment); the write side decides every sale", body = schema::Availability), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody)))]
async fn event_availability(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Value>> {
    public_event(&state, id).await?;
    let sections = availability::sections_by_name(&state.projections, id).await?;
    Ok(Json(json!({ "event_id": id, "sections": sections })))
}

#[utoipa::path(get, path = "/api/events/{id}/sections/{section}", tag = "events", params(("id" = Uuid, Path), ("section" = String, Path)),
    responses((status = 200, body = schema::SectionDetail), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody), (status = 404, description = "SECTION_NOT_FOUND", body = schema::ErrorBody)))]
async fn section(State(state): State<AppState>, Path((id, name)): Path<(Uuid, String)>) -> Result<Json<Value>> {
    public_event(&state, id).await?;
    let counts = availability::for_event(&state.projections, id)
        .await?
        .into_iter()
        .find(|c| c.section == name)
        .ok_or_else(|| ApiError::Domain(DomainError::SectionNotFound { section: name.clone() }))?;
    let seats = availability::seats(&state.projections, id, &name).await?;
    let mut body = json!({
        "event_id": id,
        "section": counts.section,
        "seating": counts.seating,
        "total_capacity": counts.total_capacity,
        "available": counts.available,
        "reserved": counts.reserved,
        "sold": counts.sold,
        "last_updated": counts.last_updated,
    });
    if counts.seating == "numbered" {
        body["seats"] =
            json!(seats.iter().map(|s| json!({ "seat_number": s.label, "status": s.status })).collect::<Vec<_>>());
    }
    Ok(Json(body))
}
