//! `/api/reservations` and `/api/payments`: holding seats, paying, cancelling, and the saga's
//! history. Answers that must be exact come from the write side; lists come from read models.
//! A reservation someone else owns answers exactly as if it did not exist (404).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::consistency;
use super::error::{ApiError, ErrorBody, Json, Path, Query, Result};
use super::paging::PageQuery;
use super::rate_limit;
use super::session::{AdminUser, SignedIn, cause_of};
use crate::auth::User;
use crate::domain::DomainError;
use crate::domain::ids::{CustomerId, EventId, PaymentId, ReservationId};
use crate::domain::money::Money;
use crate::domain::payment::{PaymentDetails, RefundAmount};
use crate::domain::reservation::{Reservation, ReservationDetails, ReservationStatus};
use crate::domain::values::{Quantity, SectionName, Timestamp};
use crate::projections::reservations as read_model;
use crate::runtime::gateway::Card;
use crate::runtime::purchase::ReserveRequest;
use crate::store::stream_id;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/reservations", post(reserve).get(mine))
        .route("/api/reservations/{id}", get(one))
        .route("/api/reservations/{id}/payment", post(pay))
        .route("/api/reservations/{id}/cancel", post(cancel))
        .route("/api/reservations/{id}/history", get(history))
        .route("/api/payments", post(pay_by_body))
        .route("/api/payments/{id}", get(payment))
        .route("/api/payments/{id}/refund", post(refund))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(reserve, mine, one, pay, cancel, history, pay_by_body, payment, refund),
    components(schemas(
        ReserveBody,
        PayBody,
        PayByBody,
        PaymentMethod,
        RefundBody,
        ReservationView,
        SeatView,
        TicketView,
        ReservationList,
        read_model::ReservationRow,
        HistoryEntry,
        PaymentView
    ))
)]
pub(super) struct Doc;

/// API.md `Reservation`, as the write side has it: exact.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Reservation)]
pub struct ReservationView {
    pub reservation_id: Uuid,
    pub event_id: Uuid,
    pub customer_id: Uuid,
    pub section: String,
    #[schema(minimum = 1, maximum = 8)]
    pub quantity: u8,
    pub seats: Vec<SeatView>,
    pub total_amount_cents: u64,
    /// `initiated`, `seats_reserved`, `payment_pending`, `completed`, `expired`, `cancelled`,
    /// `compensated`, `refunded` or `rejected`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Uuid>,
    /// Once paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tickets: Option<Vec<TicketView>>,
    /// Money returned so far.
    pub refunded_cents: u64,
}

/// A held or sold seat.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ReservedSeat)]
pub struct SeatView {
    pub seat_id: Uuid,
    /// Numbered sections only, e.g. `A-12`.
    pub seat_number: Option<String>,
}

/// A ticket of a reservation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Ticket)]
pub struct TicketView {
    pub ticket_id: Uuid,
    pub seat_number: Option<String>,
    pub owner_id: Uuid,
    /// `valid` or `void` (refunded).
    pub status: String,
}

impl From<&ReservationDetails> for ReservationView {
    fn from(r: &ReservationDetails) -> Self {
        Self {
            reservation_id: r.reservation_id.as_uuid(),
            event_id: r.event_id.as_uuid(),
            customer_id: r.customer_id.as_uuid(),
            section: r.section.as_str().to_owned(),
            quantity: r.quantity.get(),
            seats: r
                .seats
                .iter()
                .map(|s| SeatView { seat_id: s.seat_id.as_uuid(), seat_number: s.label.map(|l| l.to_string()) })
                .collect(),
            total_amount_cents: r.total.cents(),
            status: r.status.as_str().to_owned(),
            expires_at: r.expires_at,
            created_at: r.created_at,
            payment_id: r.payment_id.map(|p| p.as_uuid()),
            tickets: (!r.tickets.is_empty()).then(|| {
                r.tickets
                    .iter()
                    .map(|t| TicketView {
                        ticket_id: t.ticket_id.as_uuid(),
                        seat_number: t.seat.label.map(|l| l.to_string()),
                        owner_id: t.owner.as_uuid(),
                        status: t.status.as_str().to_owned(),
                    })
                    .collect()
            }),
            refunded_cents: r.refunded.cents(),
        }
    }
}

/// API.md `Payment`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Payment)]
pub struct PaymentView {
    pub payment_id: Uuid,
    pub reservation_id: Uuid,
    pub amount_cents: u64,
    pub refunded_cents: u64,
    /// `pending`, `captured`, `declined`, `partially_refunded` or `refunded`.
    pub status: String,
    pub card_last4: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<&PaymentDetails> for PaymentView {
    fn from(p: &PaymentDetails) -> Self {
        Self {
            payment_id: p.payment_id.as_uuid(),
            reservation_id: p.reservation_id.as_uuid(),
            amount_cents: p.amount.cents(),
            refunded_cents: p.refunded.cents(),
            status: p.status.as_str().to_owned(),
            card_last4: p.card_last4.map(|c| c.to_string()),
            created_at: p.created_at,
        }
    }
}

/// The caller's reservations (read model), newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReservationList {
    pub reservations: Vec<read_model::ReservationRow>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// One event of a reservation's saga.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub sequence: i64,
    pub event_type: String,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Timestamp,
    /// The event's data, as stored.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// The streams a buyer's action on `reservation` changed, for read-your-writes.
fn written(reservation: &ReservationDetails) -> Vec<String> {
    let mut streams = vec![stream_id::<Reservation>(reservation.reservation_id.as_uuid())];
    streams.extend(reservation.payment_id.map(|p| stream_id::<crate::domain::payment::Payment>(p.as_uuid())));
    streams
}

/// The reservation, if `user` may see it (its buyer, or an admin); otherwise "not found".
async fn visible(state: &AppState, user: &User, id: Uuid) -> Result<ReservationDetails> {
    let reservation = state.runtime.reservation(ReservationId::from_uuid(id)).await?;
    if reservation.customer_id.as_uuid() == user.id || user.is_admin() {
        Ok(reservation)
    } else {
        Err(DomainError::ReservationNotFound.into())
    }
}

/// The reservation, if `user` bought it (even admins act only on their own purchases).
async fn owned(state: &AppState, user: &User, id: Uuid) -> Result<ReservationDetails> {
    let reservation = state.runtime.reservation(ReservationId::from_uuid(id)).await?;
    if reservation.customer_id.as_uuid() == user.id {
        Ok(reservation)
    } else {
        Err(DomainError::ReservationNotFound.into())
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReserveBody {
    event_id: Uuid,
    section: String,
    quantity: i64,
    specific_seats: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/api/reservations", tag = "reservations", security(("session" = [])), request_body = ReserveBody,
    responses((status = 201, description = "Seats held until expires_at", body = ReservationView), (status = 400, description = "INVALID_QUANTITY (1–8) or VALIDATION_FAILED", body = ErrorBody),
        (status = 404, description = "EVENT_NOT_FOUND or SECTION_NOT_FOUND", body = ErrorBody), (status = 409, description = "INSUFFICIENT_INVENTORY (details: requested, available, section) or SEAT_UNAVAILABLE (details: seats)", body = ErrorBody),
        (status = 408, description = "RESERVATION_EXPIRED: a retry (same Idempotency-Key) whose hold is already over", body = ErrorBody),
        (status = 410, description = "EVENT_CANCELLED", body = ErrorBody),
        (status = 422, description = "SALES_NOT_OPEN, or INVALID_STATE_TRANSITION for a retry whose hold was cancelled", body = ErrorBody)))]
async fn reserve(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    headers: axum::http::HeaderMap,
    counted: Option<axum::Extension<rate_limit::Counted>>,
    Json(body): Json<ReserveBody>,
) -> Result<(StatusCode, Json<ReservationView>)> {
    rate_limit::check(&state, &rate_limit::holds(&state, user.id), counted.map(|c| c.0)).await?;
    let quantity = Quantity::new(body.quantity)?;
    let section = SectionName::parse(&body.section)
        .map_err(|_| DomainError::SectionNotFound { section: body.section.chars().take(50).collect() })?;
    let seats = match &body.specific_seats {
        None => None,
        Some(labels) if labels.len() > usize::from(Quantity::MAX) => {
            return Err(DomainError::validation("specific_seats", "at most 8 seats").into());
        }
        Some(labels) => Some(labels.iter().map(|l| l.parse()).collect::<Result<Vec<_>, DomainError>>()?),
    };
    let customer = CustomerId::from_uuid(user.id);
    // With an Idempotency-Key the reservation's id is the key's: a retry after a lost answer
    // (a 503, a timeout) finds the first attempt instead of holding a second set of seats.
    let reservation_id = headers
        .get(super::idempotency::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|key| crate::runtime::purchase::reservation_for_key(customer, key));
    let request =
        ReserveRequest { event_id: EventId::from_uuid(body.event_id), section, quantity, seats, reservation_id };
    let reservation = state.runtime.reserve(&cause_of(&user), customer, request).await.map_err(|e| match e {
        crate::runtime::RuntimeError::Domain(DomainError::AlreadyExists(_)) => ApiError::IdempotencyKeyReused,
        other => other.into(),
    })?;
    consistency::wrote(&state, user.id, &written(&reservation)).await;
    Ok((StatusCode::CREATED, Json(ReservationView::from(&reservation))))
}

#[utoipa::path(get, path = "/api/reservations", tag = "reservations", security(("session" = [])), params(PageQuery),
    responses((status = 200, description = "Read model: the caller's reservations, newest first", body = ReservationList)))]
async fn mine(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Query(query): Query<PageQuery>,
) -> Result<Json<ReservationList>> {
    let page = query.page()?;
    consistency::caught_up(&state, user.id, consistency::RESERVATIONS).await?;
    let (reservations, total) = read_model::for_customer(&state.projections, user.id, page).await?;
    Ok(Json(ReservationList { reservations, page: page.page, per_page: page.per_page, total }))
}

#[utoipa::path(get, path = "/api/reservations/{id}", tag = "reservations", security(("session" = [])), params(("id" = Uuid, Path, description = "Reservation id")), responses((status = 200, description = "Write side: exact", body = ReservationView), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = ErrorBody)))]
async fn one(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<ReservationView>> {
    Ok(Json(ReservationView::from(&visible(&state, &user, id).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PaymentMethod {
    #[serde(rename = "type")]
    kind: String,
    card_number: String,
    expiry: String,
    cvc: String,
}

impl PaymentMethod {
    fn card(&self, now: crate::domain::values::Timestamp) -> Result<Card, DomainError> {
        if self.kind != "card" {
            return Err(DomainError::validation("payment_method.type", "only \"card\" is accepted"));
        }
        Card::parse(&self.card_number, &self.expiry, &self.cvc, now)
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PayBody {
    payment_method: PaymentMethod,
}

/// Charges the card for a held reservation; 402 with the decline reason if the card is refused
/// (the seats are released), 408 if the hold ended first (any capture is refunded).
async fn charge(state: &AppState, user: &User, id: Uuid, method: &PaymentMethod) -> Result<ReservationDetails> {
    owned(state, user, id).await?;
    let card = method.card(state.runtime.clock().now())?;
    let after = state.runtime.pay(&cause_of(user), ReservationId::from_uuid(id), &card).await?;
    consistency::wrote(state, user.id, &written(&after)).await;
    match after.status {
        ReservationStatus::Completed => Ok(after),
        ReservationStatus::Compensated => {
            Err(ApiError::PaymentFailed(after.payment_failure.unwrap_or_else(|| "card_declined".into())))
        }
        ReservationStatus::Expired => Err(DomainError::ReservationExpired.into()),
        // The charge is still being settled (gateway slow): the worker finishes it.
        _ => Err(ApiError::unavailable("payment_gateway", "payment outcome not known yet")),
    }
}

#[utoipa::path(post, path = "/api/reservations/{id}/payment", tag = "reservations", security(("session" = [])), params(("id" = Uuid, Path, description = "Reservation id")), request_body = PayBody,
    responses((status = 200, description = "Completed, with payment_id and tickets", body = ReservationView), (status = 402, description = "PAYMENT_FAILED (details: decline_reason); the seats are released", body = ErrorBody),
        (status = 408, description = "RESERVATION_EXPIRED; any capture is refunded", body = ErrorBody), (status = 422, description = "INVALID_STATE_TRANSITION (already paid, cancelled, ...)", body = ErrorBody), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = ErrorBody)))]
async fn pay(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
    Json(body): Json<PayBody>,
) -> Result<Json<ReservationView>> {
    Ok(Json(ReservationView::from(&charge(&state, &user, id, &body.payment_method).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PayByBody {
    reservation_id: Uuid,
    payment_method: PaymentMethod,
}

#[utoipa::path(post, path = "/api/payments", tag = "payments", security(("session" = [])), request_body = PayByBody,
    responses((status = 200, description = "Completed, with payment_id and tickets", body = ReservationView), (status = 402, description = "PAYMENT_FAILED (details: decline_reason); the seats are released", body = ErrorBody),
        (status = 408, description = "RESERVATION_EXPIRED; any capture is refunded", body = ErrorBody), (status = 422, description = "INVALID_STATE_TRANSITION (already paid, cancelled, ...)", body = ErrorBody), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = ErrorBody)))]
async fn pay_by_body(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Json(body): Json<PayByBody>,
) -> Result<Json<PaymentView>> {
    let reservation = charge(&state, &user, body.reservation_id, &body.payment_method).await?;
    let payment_id = reservation.payment_id.ok_or_else(|| ApiError::Internal("completed without a payment".into()))?;
    Ok(Json(PaymentView::from(&state.runtime.payment(payment_id).await?)))
}

#[utoipa::path(post, path = "/api/reservations/{id}/cancel", tag = "reservations", security(("session" = [])), params(("id" = Uuid, Path, description = "Reservation id")),
    responses((status = 200, description = "Cancelled; a paid one is refunded by policy", body = ReservationView), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = ErrorBody), (status = 422, description = "INVALID_STATE_TRANSITION or CANCELLATION_WINDOW_CLOSED", body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<ReservationView>> {
    owned(&state, &user, id).await?;
    let after = state.runtime.cancel_reservation(&cause_of(&user), ReservationId::from_uuid(id)).await?;
    consistency::wrote(&state, user.id, &written(&after)).await;
    Ok(Json(ReservationView::from(&after)))
}

#[utoipa::path(get, path = "/api/reservations/{id}/history", tag = "reservations", security(("session" = [])), params(("id" = Uuid, Path, description = "Reservation id")), responses((status = 200, description = "The saga's events in order", body = Vec<HistoryEntry>), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<HistoryEntry>>> {
    visible(&state, &user, id).await?;
    let recorded = state
        .runtime
        .store()
        .read_stream(&stream_id::<Reservation>(id), 0)
        .await
        .map_err(|e| ApiError::unavailable("events_db", e))?;
    let entries = recorded
        .iter()
        .map(|r| HistoryEntry {
            sequence: r.version,
            event_type: r.event_type.clone(),
            occurred_at: r.recorded_at,
            data: r
                .decode::<Reservation>()
                .ok()
                .and_then(|e| serde_json::to_value(e).ok())
                .unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(Json(entries))
}

#[utoipa::path(get, path = "/api/payments/{id}", tag = "payments", security(("session" = [])), params(("id" = Uuid, Path)), responses((status = 200, body = PaymentView), (status = 404, description = "PAYMENT_NOT_FOUND", body = ErrorBody)))]
async fn payment(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<PaymentView>> {
    let payment = state.runtime.payment(PaymentId::from_uuid(id)).await?;
    if payment.customer_id.as_uuid() != user.id && !user.is_admin() {
        return Err(DomainError::PaymentNotFound.into());
    }
    Ok(Json(PaymentView::from(&payment)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    amount_cents: Option<i64>,
    reason: String,
}

#[utoipa::path(post, path = "/api/payments/{id}/refund", tag = "payments", security(("session" = [])), params(("id" = Uuid, Path)), request_body = RefundBody,
    description = "Part of an order keeps its tickets; a refund that returns everything captured undoes the order (reservation `refunded`, tickets void, seats back on sale).",
    responses((status = 200, body = PaymentView), (status = 400, description = "VALIDATION_FAILED: more than is left to refund", body = ErrorBody), (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody),
        (status = 404, description = "PAYMENT_NOT_FOUND", body = ErrorBody)))]
async fn refund(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<RefundBody>,
) -> Result<Json<PaymentView>> {
    let amount = match body.amount_cents {
        Some(cents) => RefundAmount::Exactly(Money::positive("amount_cents", cents)?),
        None => RefundAmount::Remaining,
    };
    let payment =
        state.runtime.refund_payment(&cause_of(&admin), PaymentId::from_uuid(id), amount, body.reason).await?;
    let streams =
        [stream_id::<crate::domain::payment::Payment>(id), stream_id::<Reservation>(payment.reservation_id.as_uuid())];
    consistency::wrote(&state, admin.id, &streams).await;
    // The buyer sees the refund on their next read too.
    consistency::wrote(&state, payment.customer_id.as_uuid(), &streams).await;
    Ok(Json(PaymentView::from(&payment)))
}
