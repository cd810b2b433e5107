//! `/api/events`: the catalogue and live availability (read models; they may lag the write side
//! by a moment, the purchase itself is decided by the inventory).
//!
//! Admins create and run events here too; those answers come from the write side.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::consistency;
use super::error::{ApiError, ErrorBody, Json, Path, Query, Result};
use super::paging::{Page, PageQuery};
use super::session::{AdminUser, Viewer, cause_of};
use crate::domain::DomainError;
use crate::domain::event::{EventCommand, EventDetails, NewEvent};
use crate::domain::ids::EventId;
use crate::domain::money::Money;
use crate::domain::policy::PriceTier;
use crate::domain::seating::{SectionLayout, SectionSpec};
use crate::domain::values::{Category, EventName, SectionName, Venue};
use crate::domain::values::{EventDate, Timestamp};
use crate::live::read_cache;
use crate::projections::availability::{self, Counts};
use crate::projections::catalogue::{self, CatalogueEntry, CatalogueSection};
use crate::store::stream_id;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/events", get(list).post(create))
        .route("/api/events/{id}", get(one).put(revise))
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
    paths(list, one, create, revise, publish, open_sales, close_sales, cancel, event_availability, section),
    components(schemas(
        CreateEvent,
        VenueInput,
        SectionInput,
        CancelEvent,
        EventView,
        VenueView,
        SectionView,
        SeatsLeft,
        SalesSummary,
        EventPage,
        AvailabilityView,
        SectionDetail,
        SeatView,
        Counts
    ))
)]
pub(super) struct Doc;

pub const STATUSES: [&str; 6] = ["draft", "published", "sales_open", "sales_closed", "cancelled", "completed"];

/// API.md `Event`: prices as of now (the tier moves as the date nears).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Event)]
pub struct EventView {
    pub event_id: Uuid,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub date: Timestamp,
    /// `concert`, `sports`, `conference`, `theatre`, `festival` or `other`.
    pub category: String,
    pub venue: VenueView,
    /// `draft`, `published`, `sales_open`, `sales_closed`, `cancelled` or `completed`.
    pub status: String,
    pub sections: Vec<SectionView>,
    /// Seats left across all sections (read model: may lag a moment); absent until known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<SeatsLeft>,
    /// Admins only: what sold (read model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales: Option<SalesSummary>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Venue)]
pub struct VenueView {
    pub name: String,
    pub city: Option<String>,
    pub country: Option<String>,
}

/// A section with its price now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EventSection)]
pub struct SectionView {
    pub name: String,
    /// `general` or `numbered`.
    pub seating: String,
    pub capacity: u32,
    pub rows: Option<u32>,
    pub seats_per_row: Option<u32>,
    pub base_price_cents: u64,
    /// `early_bird`, `regular` or `last_minute`.
    pub current_tier: String,
    pub current_price_cents: u64,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct SeatsLeft {
    pub available: i32,
    pub total_capacity: i32,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct SalesSummary {
    /// Tickets sold and not refunded.
    pub tickets_sold: i64,
    /// Net of refunds.
    pub revenue_cents: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl EventView {
    /// An event as a catalogue row has it, priced as of `now`.
    pub fn of(entry: &CatalogueEntry, now: Timestamp) -> Self {
        let tier = PriceTier::at(EventDate::recorded(entry.starts_at), now);
        let sections = entry
            .sections
            .iter()
            .map(|s| SectionView {
                name: s.name.clone(),
                seating: s.seating.clone(),
                capacity: s.capacity,
                rows: s.rows,
                seats_per_row: s.seats_per_row,
                base_price_cents: s.base_price_cents,
                current_tier: tier.as_str().to_owned(),
                current_price_cents: tier
                    .unit_price(Money::from_cents(s.base_price_cents))
                    .map_or(s.base_price_cents, Money::cents),
            })
            .collect();
        let availability = match (entry.seats_available, entry.seats_total) {
            (Some(available), Some(total_capacity)) => Some(SeatsLeft { available, total_capacity }),
            _ => None,
        };
        let sales = Some(SalesSummary {
            tickets_sold: entry.tickets_sold.unwrap_or(0),
            revenue_cents: entry.revenue_cents.unwrap_or(0),
        });
        Self {
            event_id: entry.event_id,
            name: entry.name.clone(),
            date: entry.starts_at,
            category: entry.category.clone(),
            venue: VenueView {
                name: entry.venue_name.clone(),
                city: entry.venue_city.clone(),
                country: entry.venue_country.clone(),
            },
            status: entry.status.clone(),
            sections,
            availability,
            sales,
            created_at: entry.created_at,
        }
    }

    /// What the public sees: no sales figures.
    fn public(mut self) -> Self {
        self.sales = None;
        self
    }

    /// An event as the write side has it (exact; no seat counts).
    pub fn of_details(details: &EventDetails, now: Timestamp) -> Self {
        Self::of(&catalogue_entry(details), now)
    }
}

/// `?status=&q=&category=&city=&from=&to=&page=&per_page=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// One of `draft` (admins), `published`, `sales_open`, `sales_closed`, `cancelled`, `completed`.
    #[param(pattern = "^(draft|published|sales_open|sales_closed|cancelled|completed)$")]
    status: Option<String>,
    /// Words that must all appear in the name, venue, city or category.
    #[param(max_length = 200)]
    q: Option<String>,
    #[param(pattern = "^(concert|sports|conference|theatre|festival|other)$")]
    category: Option<String>,
    #[param(max_length = 100)]
    city: Option<String>,
    /// Starting at or after this time.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Timestamp>,
    /// Starting before this time.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Timestamp>,
    #[param(minimum = 1, maximum = 10000)]
    page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<i64>,
}

#[utoipa::path(get, path = "/api/events", tag = "events", params(ListQuery),
    responses((status = 200, description = "Read model, soonest first; drafts only for admins", body = EventPage)))]
async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<Json<EventPage>> {
    let page: Page = PageQuery { page: query.page, per_page: query.per_page }.page()?;
    if query.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(DomainError::validation("status", format!("must be one of {}", STATUSES.join(", "))).into());
    }
    let category = query.category.as_deref().map(str::parse::<Category>).transpose()?;
    let q = query.q.as_deref().unwrap_or_default();
    if q.chars().count() > 200 || query.city.as_deref().is_some_and(|c| c.chars().count() > 100) {
        return Err(DomainError::validation("q", "too long").into());
    }
    if let Some(user) = &viewer.0 {
        consistency::caught_up(&state, user.id, consistency::CATALOGUE).await?;
    }
    let filter = catalogue::Filter {
        status: query.status.as_deref(),
        words: q.split_whitespace().map(str::to_owned).collect(),
        category: category.as_ref().map(|c| c.as_str()),
        city: query.city.as_deref().map(str::trim).filter(|c| !c.is_empty()),
        from: query.from,
        to: query.to,
        include_drafts: viewer.is_admin(),
    };
    let (entries, total) = catalogue::list(&state.projections, &filter, page).await?;
    let now = state.runtime.clock().now();
    let admin = viewer.is_admin();
    Ok(Json(EventPage {
        events: entries
            .iter()
            .map(|e| if admin { EventView::of(e, now) } else { EventView::of(e, now).public() })
            .collect(),
        page: page.page,
        per_page: page.per_page,
        total,
    }))
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

#[utoipa::path(get, path = "/api/events/{id}", tag = "events", params(("id" = Uuid, Path, description = "Event id")), responses((status = 200, body = EventView), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody)))]
async fn one(State(state): State<AppState>, viewer: Viewer, Path(id): Path<Uuid>) -> Result<Json<EventView>> {
    let now = state.runtime.clock().now();
    if viewer.is_admin() {
        // Admins see drafts too, exactly as the write side has them, with what sold.
        let details = state.runtime.event(EventId::from_uuid(id)).await?;
        let mut view = EventView::of_details(&details, now);
        if let Some(entry) = catalogue::get(&state.projections, id).await? {
            let read = EventView::of(&entry, now);
            view.availability = read.availability;
            view.sales = read.sales;
        }
        return Ok(Json(view));
    }
    let entry = public_event(&state, id).await?;
    Ok(Json(EventView::of(&entry, now).public()))
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
        sections: sqlx::types::Json(details.sections.iter().map(CatalogueSection::of).collect()),
        created_at: details.created_at,
        seats_available: None,
        seats_total: None,
        tickets_sold: None,
        revenue_cents: None,
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
    responses((status = 201, description = "A draft", body = EventView), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<CreateEvent>,
) -> Result<(StatusCode, Json<EventView>)> {
    let new = body.parse()?;
    let event_id = EventId::from_uuid(Uuid::new_v4());
    let details = state.runtime.create_event(&cause_of(&admin), event_id, new).await?;
    consistency::wrote(&state, admin.id, &[stream_id::<crate::domain::event::Event>(event_id.as_uuid())]).await;
    Ok((StatusCode::CREATED, Json(EventView::of_details(&details, state.runtime.clock().now()))))
}

#[utoipa::path(put, path = "/api/events/{id}", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")), request_body = CreateEvent,
    responses((status = 200, description = "The draft as it is now", body = EventView), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION: only drafts can be edited", body = ErrorBody)))]
async fn revise(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<CreateEvent>,
) -> Result<Json<EventView>> {
    let event = body.parse()?;
    change(&state, &admin, id, EventCommand::Revise { event }).await
}

async fn change(
    state: &AppState,
    admin: &crate::auth::User,
    id: Uuid,
    command: EventCommand,
) -> Result<Json<EventView>> {
    let details = state.runtime.change_event(&cause_of(admin), EventId::from_uuid(id), command).await?;
    consistency::wrote(state, admin.id, &[stream_id::<crate::domain::event::Event>(id)]).await;
    Ok(Json(EventView::of_details(&details, state.runtime.clock().now())))
}

#[utoipa::path(post, path = "/api/events/{id}/publish", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "draft → published", body = EventView), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION (details: from, action)", body = ErrorBody)))]
async fn publish(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Json<EventView>> {
    change(&state, &admin, id, EventCommand::Publish).await
}

#[utoipa::path(post, path = "/api/events/{id}/sales/open", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "published or sales_closed → sales_open", body = EventView), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION (details: from, action)", body = ErrorBody)))]
async fn open_sales(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Json<EventView>> {
    change(&state, &admin, id, EventCommand::OpenSales).await
}

#[utoipa::path(post, path = "/api/events/{id}/sales/close", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "sales_open → sales_closed", body = EventView), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION (details: from, action)", body = ErrorBody)))]
async fn close_sales(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<Json<EventView>> {
    change(&state, &admin, id, EventCommand::CloseSales).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelEvent {
    reason: String,
}

#[utoipa::path(post, path = "/api/events/{id}/cancel", tag = "events", security(("session" = [])), params(("id" = Uuid, Path, description = "Event id")), request_body = CancelEvent,
    responses((status = 200, description = "Cancelled; every sold ticket is refunded in full", body = EventView), (status = 403, description = "FORBIDDEN", body = ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "INVALID_STATE_TRANSITION, or within 24 h of the start", body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<CancelEvent>,
) -> Result<Json<EventView>> {
    change(&state, &admin, id, EventCommand::Cancel { reason: body.reason }).await
}

/// Live counts of every section (read model).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Availability)]
pub struct AvailabilityView {
    pub event_id: Uuid,
    /// By section name.
    pub sections: std::collections::BTreeMap<String, Counts>,
}

#[utoipa::path(get, path = "/api/events/{id}/availability", tag = "events", params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "Read model (may lag a moment); the write side decides every sale", body = AvailabilityView), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody)))]
async fn event_availability(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Response> {
    let cache = state.live.cache();
    let key = read_cache::Key::event(id);
    if let Some(body) = cache.get(&key) {
        return Ok(json_body(body));
    }
    let ticket = cache.ticket(id);
    public_event(&state, id).await?;
    let sections = availability::sections_by_name(&state.projections, id).await?;
    let body = to_body(&AvailabilityView { event_id: id, sections })?;
    cache.put(key, ticket, body.clone());
    Ok(json_body(body))
}

/// An answer serialised once, to keep in the read cache.
fn to_body(value: &impl Serialize) -> Result<Bytes> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| ApiError::Internal(format!("serialising an answer: {e}")))
}

fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// One numbered seat as buyers see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SeatState)]
pub struct SeatView {
    /// Row letters and seat number, e.g. `A-12`.
    pub seat_number: String,
    /// `available`, `reserved` or `sold`.
    pub status: String,
}

/// A section's counts, and for numbered sections each seat.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SectionDetail {
    pub event_id: Uuid,
    pub section: String,
    /// `general` or `numbered`.
    pub seating: String,
    pub total_capacity: i32,
    pub available: i32,
    pub reserved: i32,
    pub sold: i32,
    #[schema(value_type = String, format = DateTime)]
    pub last_updated: Timestamp,
    /// Numbered sections only, in row then seat order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<SeatView>>,
}

#[utoipa::path(get, path = "/api/events/{id}/sections/{section}", tag = "events", params(("id" = Uuid, Path), ("section" = String, Path)),
    responses((status = 200, body = SectionDetail), (status = 404, description = "EVENT_NOT_FOUND or SECTION_NOT_FOUND", body = ErrorBody)))]
async fn section(State(state): State<AppState>, Path((id, name)): Path<(Uuid, String)>) -> Result<Response> {
    let cache = state.live.cache();
    let key = read_cache::Key::section(id, name.clone());
    if let Some(body) = cache.get(&key) {
        return Ok(json_body(body));
    }
    let ticket = cache.ticket(id);
    public_event(&state, id).await?;
    let counts =
        availability::for_event(&state.projections, id).await?.into_iter().find(|c| c.section == name).ok_or_else(
            || ApiError::Domain(DomainError::SectionNotFound { section: name.chars().take(50).collect() }),
        )?;
    let seats = if counts.seating == "numbered" {
        let seats = availability::seats(&state.projections, id, &name).await?;
        Some(seats.into_iter().map(|s| SeatView { seat_number: s.label, status: s.status }).collect())
    } else {
        None
    };
    let body = to_body(&SectionDetail {
        event_id: id,
        section: counts.section,
        seating: counts.seating,
        total_capacity: counts.total_capacity,
        available: counts.available,
        reserved: counts.reserved,
        sold: counts.sold,
        last_updated: counts.last_updated,
        seats,
    })?;
    cache.put(key, ticket, body.clone());
    Ok(json_body(body))
}
