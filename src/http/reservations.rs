//! `/api/reservations` and `/api/payments`: holding seats, paying, cancelling, and the saga's
//! history. Answers that must be exact come from the write side; lists come from read models.
//! A reservation someone else owns answers exactly as if it did not exist (404).

use super::openapi::schema;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::consistency;
use super::error::{ApiError, Json, Path, Query, Result};
use super::paging::PageQuery;
use super::session::{AdminUser, SignedIn, cause_of};
use crate::auth::User;
use crate::domain::DomainError;
use crate::domain::ids::{CustomerId, EventId, PaymentId, ReservationId};
use crate::domain::money::Money;
use crate::domain::payment::{PaymentDetails, RefundAmount};
use crate::domain::reservation::{Reservation, ReservationDetails, ReservationStatus};
use crate::domain::values::{Quantity, SectionName};
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
    components(schemas(ReserveBody, PayBody, PayByBody, PaymentMethod, RefundBody))
)]
pub(super) struct Doc;

/// API.md `Reservation`.
pub fn reservation_json(r: &ReservationDetails) -> Value {
    let mut body = json!({
        "reservation_id": r.reservation_id,
        "event_id": r.event_id,
        "customer_id": r.customer_id,
        "section": r.section.as_str(),
        "quantity": r.quantity.get(),
        "seats": r.seats.iter().map(|s| json!({ "seat_id": s.seat_id, "seat_number": s.label.map(|l| l.to_string()) })).collect::<Vec<_>>(),
        "total_amount_cents": r.total.cents(),
        "status": r.status.as_str(),
        "expires_at": r.expires_at,
        "created_at": r.created_at,
    });
    if let Some(payment_id) = r.payment_id {
        body["payment_id"] = json!(payment_id);
    }
    if !r.tickets.is_empty() {
        body["tickets"] = json!(r
            .tickets
            .iter()
            .map(|t| json!({ "ticket_id": t.ticket_id, "seat_number": t.seat.label.map(|l| l.to_string()), "owner_id": t.owner, "status": t.status.as_str() }))
            .collect::<Vec<_>>());
    }
    body
}

/// API.md `Payment`.
fn payment_json(p: &PaymentDetails) -> Value {
    json!({
        "payment_id": p.payment_id,
        "reservation_id": p.reservation_id,
        "amount_cents": p.amount.cents(),
        "refunded_cents": p.refunded.cents(),
        "status": p.status.as_str(),
        "card_last4": p.card_last4.map(|c| c.to_string()),
        "created_at": p.created_at,
    })
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
    responses((status = 201, description = "Seats held until expires_at", body = schema::Reservation), (status = 400, description = "INVALID_QUANTITY (1–8) or VALIDATION_FAILED", body = schema::ErrorBody),
        (status = 404, description = "EVENT_NOT_FOUND or SECTION_NOT_FOUND", body = schema::ErrorBody), (status = 409, description = "INSUFFICIENT_INVENTORY (details: requested, available, section) or SEAT_UNAVAILABLE (details: seats)", body = schema::ErrorBody),
        (status = 410, description = "EVENT_CANCELLED", body = schema::ErrorBody), (status = 422, description = "SALES_NOT_OPEN", body = schema::ErrorBody)))]
async fn reserve(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    headers: axum::http::HeaderMap,
    Json(body): Json<ReserveBody>,
) -> Result<(StatusCode, Json<Value>)> {
    let key = format!("reserve:{}", user.id);
    if let Err(retry_after) = state.auth.rate_limit(&key, state.config.reservation_rate_limit, 60).await? {
        return Err(ApiError::RateLimited(retry_after));
    }
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
    Ok((StatusCode::CREATED, Json(reservation_json(&reservation))))
}

#[utoipa::path(get, path = "/api/reservations", tag = "reservations", security(("session" = [])), params(PageQuery),
    responses((status = 200, description = "Read model: the caller's reservations, newest first", body = schema::ReservationList)))]
async fn mine(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>> {
    let page = query.page()?;
    consistency::caught_up(&state, user.id, consistency::RESERVATIONS).await?;
    let (rows, total) = read_model::for_customer(&state.projections, user.id, page).await?;
    Ok(Json(json!({ "reservations": rows, "page": page.page, "per_page": page.per_page, "total": total })))
}

#[utoipa::path(get, path = "/api/reservations/{id}", tag = "reservations", security(("session" = [])), params(("id" = Uuid, Path, description = "Reservation id")), responses((status = 200, description = "Write side: exact", body = schema::Reservation), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = schema::ErrorBody)))]
async fn one(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    Ok(Json(reservation_json(&visible(&state, &user, id).await?)))
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
    responses((status = 200, description = "Completed, with payment_id and tickets", body = schema::Reservation), (status = 402, description = "PAYMENT_FAILED (details: decline_reason); the seats are released", body = schema::ErrorBody),
        (status = 408, description = "RESERVATION_EXPIRED; any capture is refunded", body = schema::ErrorBody), (status = 422, description = "INVALID_STATE_TRANSITION (already paid, cancelled, ...)", body = schema::ErrorBody), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = schema::ErrorBody)))]
async fn pay(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
    Json(body): Json<PayBody>,
) -> Result<Json<Value>> {
    Ok(Json(reservation_json(&charge(&state, &user, id, &body.payment_method).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PayByBody {
    reservation_id: Uuid,
    payment_method: PaymentMethod,
}

#[utoipa::path(post, path = "/api/payments", tag = "payments", security(("session" = [])), request_body = PayByBody,
    responses((status = 200, description = "Completed, with payment_id and tickets", body = schema::Reservation), (status = 402, description = "PAYMENT_FAILED (details: decline_reason); the seats are released", body = schema::ErrorBody),
        (status = 408, description = "RESERVATION_EXPIRED; any capture is refunded", body = schema::ErrorBody), (status = 422, description = "INVALID_STATE_TRANSITION (already paid, cancelled, ...)", body = schema::ErrorBody), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = schema::ErrorBody)))]
async fn pay_by_body(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Json(body): Json<PayByBody>,
) -> Result<Json<Value>> {
    let reservation = charge(&state, &user, body.reservation_id, &body.payment_method).await?;
    let payment_id = reservation.payment_id.ok_or_else(|| ApiError::Internal("completed without a payment".into()))?;
    Ok(Json(payment_json(&state.runtime.payment(payment_id).await?)))
}

#[utoipa::path(post, path = "/api/reservations/{id}/cancel", tag = "reservations", security(("session" = [])), params(("id" = Uuid, Path, description = "Reservation id")),
    responses((status = 200, description = "Cancelled; a paid one is refunded by policy", body = schema::Reservation), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = schema::ErrorBody), (status = 422, description = "INVALID_STATE_TRANSITION or CANCELLATION_WINDOW_CLOSED", body = schema::ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    owned(&state, &user, id).await?;
    let after = state.runtime.cancel_reservation(&cause_of(&user), ReservationId::from_uuid(id)).await?;
    consistency::wrote(&state, user.id, &written(&after)).await;
    Ok(Json(reservation_json(&after)))
}

#[utoipa::path(get, path = "/api/reservations/{id}/history", tag = "reservations", security(("session" = [])), params(("id" = Uuid, Path, description = "Reservation id")), responses((status = 200, description = "The saga's events in order", body = Vec<schema::HistoryEntry>), (status = 404, description = "RESERVATION_NOT_FOUND (also for someone else's)", body = schema::ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    visible(&state, &user, id).await?;
    let recorded = state
        .runtime
        .store()
        .read_stream(&stream_id::<Reservation>(id), 0)
        .await
        .map_err(|e| ApiError::unavailable("events_db", e))?;
    let entries = recorded
        .iter()
        .map(|r| {
            let data =
                r.decode::<Reservation>().map_or(Value::Null, |e| serde_json::to_value(e).unwrap_or(Value::Null));
            json!({ "sequence": r.version, "event_type": r.event_type, "occurred_at": r.recorded_at, "data": data })
        })
        .collect::<Vec<_>>();
    Ok(Json(json!(entries)))
}

#[utoipa::path(get, path = "/api/payments/{id}", tag = "payments", security(("session" = [])), params(("id" = Uuid, Path)), responses((status = 200, body = schema::Payment), (status = 404, description = "PAYMENT_NOT_FOUND", body = schema::ErrorBody)))]
async fn payment(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>> {
    let payment = state.runtime.payment(PaymentId::from_uuid(id)).await?;
    if payment.customer_id.as_uuid() != user.id && !user.is_admin() {
        return Err(DomainError::PaymentNotFound.into());
    }
    Ok(Json(payment_json(&payment)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    amount_cents: Option<i64>,
    reason: String,
}

#[utoipa::path(post, path = "/api/payments/{id}/refund", tag = "payments", security(("session" = [])), params(("id" = Uuid, Path)), request_body = RefundBody,
    responses((status = 200, body = schema::Payment), (status = 400, description = "VALIDATION_FAILED: more than is left to refund", body = schema::ErrorBody), (status = 403, description = "FORBIDDEN: admins only", body = schema::ErrorBody),
        (status = 404, description = "PAYMENT_NOT_FOUND", body = schema::ErrorBody)))]
async fn refund(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Json(body): Json<RefundBody>,
) -> Result<Json<Value>> {
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
    Ok(Json(payment_json(&payment)))
}
