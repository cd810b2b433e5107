//! `/api/tickets`: the caller's tickets, and giving one to someone else.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::consistency;
use super::error::{ErrorBody, Json, Path, Query, Result};
use super::paging::PageQuery;
use super::session::{SignedIn, cause_of};
use crate::auth::parse_email;
use crate::domain::DomainError;
use crate::domain::ids::{CustomerId, TicketId};
use crate::domain::reservation::Reservation;
use crate::projections::reservations as read_model;
use crate::store::stream_id;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tickets", get(mine)).route("/api/tickets/{id}/transfer", post(transfer))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(mine, transfer),
    components(schemas(TransferBody, TicketList, OwnedTicket, read_model::TicketRow, Transfer, TransferredTicket))
)]
pub(super) struct Doc;

/// A ticket its owner holds, with the code its QR code shows at the door.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OwnedTicket {
    #[serde(flatten)]
    pub ticket: read_model::TicketRow,
    /// Signed for this owner: it stops working once the ticket is given to someone else.
    pub code: String,
}

/// The tickets the caller holds (read model), newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketList {
    pub tickets: Vec<OwnedTicket>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransferredTicket {
    pub ticket_id: Uuid,
    /// The new owner.
    pub owner_id: Uuid,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Transfer {
    pub ticket: TransferredTicket,
    pub to_email: String,
}

#[utoipa::path(get, path = "/api/tickets", tag = "tickets", security(("session" = [])), params(PageQuery),
    responses((status = 200, description = "Read model: tickets the caller owns, newest first", body = TicketList)))]
async fn mine(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Query(query): Query<PageQuery>,
) -> Result<Json<TicketList>> {
    let page = query.page()?;
    consistency::caught_up(&state, user.id, consistency::RESERVATIONS).await?;
    let (rows, total) = read_model::tickets_of(&state.projections, user.id, page).await?;
    let tickets = rows
        .into_iter()
        .map(|ticket| {
            let code = state.tickets.sign(ticket.ticket_id, ticket.event_id, user.id, ticket.seat_number.as_deref());
            OwnedTicket { ticket, code }
        })
        .collect();
    Ok(Json(TicketList { tickets, page: page.page, per_page: page.per_page, total }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    #[schema(schema_with = super::openapi::email)]
    to_email: String,
}

/// Gives a ticket to the user with `to_email` (an account is made for a new address: they sign
/// in by magic link to see it). Refused within 24 hours of the event.
#[utoipa::path(post, path = "/api/tickets/{id}/transfer", tag = "tickets", security(("session" = [])), params(("id" = Uuid, Path)), request_body = TransferBody,
    responses((status = 200, body = Transfer), (status = 404, description = "TICKET_NOT_FOUND", body = ErrorBody), (status = 422, description = "TRANSFER_WINDOW_CLOSED or INVALID_STATE_TRANSITION", body = ErrorBody)))]
async fn transfer(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    Path(id): Path<Uuid>,
    Json(body): Json<TransferBody>,
) -> Result<Json<Transfer>> {
    let to_email =
        parse_email(&body.to_email).map_err(|_| DomainError::validation("to_email", "is not an email address"))?;
    // Found on the write side (a ticket issued a moment ago is not in the read model yet), and
    // the caller's before anything else happens: no account is made for someone else's ticket.
    let ticket_id = TicketId::from_uuid(id);
    let reservation_id = state.runtime.reservation_of_ticket(ticket_id).await?.ok_or(DomainError::TicketNotFound)?;
    let reservation = state.runtime.reservation(reservation_id).await?;
    if !reservation.tickets.iter().any(|t| t.ticket_id == ticket_id && t.owner.as_uuid() == user.id) {
        return Err(DomainError::TicketNotFound.into());
    }
    let recipient = state.auth.user_for_email(&to_email, false).await?;
    let after = state
        .runtime
        .transfer_ticket(
            &cause_of(&user),
            reservation_id,
            ticket_id,
            CustomerId::from_uuid(user.id),
            CustomerId::from_uuid(recipient.id),
        )
        .await?;
    // Both the giver's and the recipient's next reads show where the ticket is now.
    let streams = [stream_id::<Reservation>(reservation_id.as_uuid())];
    consistency::wrote(&state, user.id, &streams).await;
    consistency::wrote(&state, recipient.id, &streams).await;
    let ticket = after
        .tickets
        .iter()
        .find(|t| t.ticket_id == ticket_id)
        .map(|t| TransferredTicket { ticket_id: t.ticket_id.as_uuid(), owner_id: t.owner.as_uuid() })
        .ok_or_else(|| super::error::ApiError::Internal("the transferred ticket is gone".into()))?;
    Ok(Json(Transfer { ticket, to_email }))
}
