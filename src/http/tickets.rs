//! `/api/tickets`: the caller's tickets, and giving one to someone else.

use super::openapi::schema;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::auth::{SignedIn, cause_of};
use super::error::{Json, Path, Result};
use crate::auth::parse_email;
use crate::domain::DomainError;
use crate::domain::ids::{CustomerId, ReservationId, TicketId};
use crate::projections::reservations as read_model;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tickets", get(mine)).route("/api/tickets/{id}/transfer", post(transfer))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(mine, transfer), components(schemas(TransferBody)))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/api/tickets", tag = "tickets", security(("session" = [])), responses((status = 200, description = "Read model: tickets the caller owns", body = schema::TicketList)))]
async fn mine(State(state): State<AppState>, SignedIn { user, .. }: SignedIn) -> Result<Json<Value>> {
    Ok(Json(json!({ "tickets": read_model::tickets_of(&state.projections, user.id).await? })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to_email: String,
}

/// Gives a ticket to the user with `to_email` (an account is made for a new address: they sign
/// in by magic link to see it). Refused within 24 hours of the event.
#[utoipa::path(post, path = "/api/tickets/{id}/transfer", tag = "tickets", security(("session" = [])), params(("id" = Uuid, Path)), request_body = TransferBody,
    responses((status = 200, body = schema::Transfer), (status = 404, description = "TICKET_NOT_FOUND", body = schema::ErrorBody), (status = 422, description = "TRANSFER_WINDOW_CLOSED or INVALID_STATE_TRANSITION", body = schema::ErrorBody)))]
async fn transfer(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
    Json(body): Json<TransferBody>,
) -> Result<Json<Value>> {
    let to_email =
        parse_email(&body.to_email).map_err(|_| DomainError::validation("to_email", "is not an email address"))?;
    let reservation_id: Option<Uuid> = sqlx::query_scalar("SELECT reservation_id FROM tickets WHERE ticket_id = $1")
        .bind(id)
        .fetch_optional(&state.projections)
        .await?;
    let reservation_id = reservation_id.ok_or(DomainError::TicketNotFound)?;
    let recipient = state.auth.user_for_email(&to_email, false).await?;
    let after = state
        .runtime
        .transfer_ticket(
            &cause_of(&user),
            ReservationId::from_uuid(reservation_id),
            TicketId::from_uuid(id),
            CustomerId::from_uuid(user.id),
            CustomerId::from_uuid(recipient.id),
        )
        .await?;
    let ticket = after
        .tickets
        .iter()
        .find(|t| t.ticket_id.as_uuid() == id)
        .map(|t| json!({ "ticket_id": t.ticket_id, "owner_id": t.owner }));
    Ok(Json(json!({ "ticket": ticket, "to_email": to_email })))
}
