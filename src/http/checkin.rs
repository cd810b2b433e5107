//! `/api/checkin`: letting people in at the door.
//!
//! `POST /api/checkin` (admins and door staff) takes a scanned ticket code and answers
//! `admitted` (the first scan), `already_admitted` (with when), or `invalid` (with why). The
//! answer is always 200: the door shows green or red, it is not an error. `GET /api/checkin/key`
//! publishes the keys codes are signed with, so a door page that lost its network still tells
//! real codes from forged ones, and syncs what it let in (`scanned_at`) once it is back.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Result};
use super::session::{SignedIn, cause_of};
use crate::auth::User;
use crate::domain::ids::{EventId, TicketId};
use crate::domain::values::Timestamp;
use crate::runtime::purchase::Admission;
use crate::ticket_codes::{CodeError, PublicKey};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/checkin", post(check_in)).route("/api/checkin/key", get(keys))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(check_in, keys), components(schemas(CheckIn, CheckInResult, Verdict, Keys, PublicKey)))]
pub(super) struct Doc;

/// A signed-in admin or door staff member; 401 when not signed in, 403 for anyone else.
#[derive(Debug, Clone)]
pub struct StaffUser(pub User);

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.user.is_staff() { Ok(Self(signed_in.user)) } else { Err(ApiError::Forbidden) }
    }
}

/// A scan.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckIn {
    /// The event whose door this is.
    event_id: Uuid,
    /// The ticket's code, as its QR code holds it.
    #[schema(min_length = 1, max_length = 256)]
    code: String,
    /// When the scan happened, for scans a door made offline and syncs now (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    scanned_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Admitted,
    AlreadyAdmitted,
    Invalid,
}

/// What the door shows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckInResult {
    pub result: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_number: Option<String>,
    /// When the ticket was first let in.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_admitted_at: Option<Timestamp>,
    /// For `invalid`: `bad_signature`, `malformed`, `unknown_key`, `another_event`, `unknown_ticket`,
    /// `refunded`, `transferred`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl CheckInResult {
    fn invalid(reason: &'static str, ticket_id: Option<Uuid>) -> Self {
        Self { result: Verdict::Invalid, ticket_id, seat_number: None, first_admitted_at: None, reason: Some(reason) }
    }
}

/// Scans older than this are not accepted as offline scans (a stale queue is a mistake).
const OLDEST_OFFLINE_SCAN: chrono::Duration = chrono::Duration::days(2);

#[utoipa::path(post, path = "/api/checkin", tag = "checkin", security(("session" = [])), request_body = CheckIn,
    responses((status = 200, description = "The verdict: admitted, already_admitted (with the first time) or invalid (with why)", body = CheckInResult),
        (status = 403, description = "FORBIDDEN: admins and door staff only", body = ErrorBody)))]
async fn check_in(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    Json(body): Json<CheckIn>,
) -> Result<Json<CheckInResult>> {
    let claims = match state.tickets.verify(&body.code) {
        Ok(claims) => claims,
        Err(error) => {
            let reason = match error {
                CodeError::Malformed => "malformed",
                CodeError::UnknownKey => "unknown_key",
                CodeError::BadSignature => "bad_signature",
            };
            return Ok(Json(CheckInResult::invalid(reason, None)));
        }
    };
    if claims.event_id != body.event_id {
        return Ok(Json(CheckInResult::invalid("another_event", Some(claims.ticket_id))));
    }
    let now = state.runtime.clock().now();
    let at = body.scanned_at.map_or(now, |at| at.clamp(now - OLDEST_OFFLINE_SCAN, now));
    let admission = state
        .runtime
        .check_in(
            &cause_of(&staff),
            EventId::from_uuid(body.event_id),
            TicketId::from_uuid(claims.ticket_id),
            claims.owner_tag,
            at,
        )
        .await?;
    let seat = |reservation: &crate::domain::reservation::ReservationDetails| {
        reservation
            .tickets
            .iter()
            .find(|t| t.ticket_id.as_uuid() == claims.ticket_id)
            .and_then(|t| t.seat.label.map(|l| l.to_string()))
    };
    Ok(Json(match admission {
        Admission::Admitted { reservation, at } => CheckInResult {
            result: Verdict::Admitted,
            ticket_id: Some(claims.ticket_id),
            seat_number: seat(&reservation),
            first_admitted_at: Some(at),
            reason: None,
        },
        Admission::AlreadyAdmitted { reservation, first } => CheckInResult {
            result: Verdict::AlreadyAdmitted,
            ticket_id: Some(claims.ticket_id),
            seat_number: seat(&reservation),
            first_admitted_at: Some(first),
            reason: None,
        },
        Admission::Invalid(reason) => CheckInResult::invalid(reason, Some(claims.ticket_id)),
    }))
}

/// The keys ticket codes are signed with, the current one first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Keys {
    /// `Ed25519`.
    pub algorithm: &'static str,
    pub keys: Vec<PublicKey>,
}

#[utoipa::path(get, path = "/api/checkin/key", tag = "checkin",
    responses((status = 200, description = "Public keys that verify ticket codes (for door pages working offline)", body = Keys)))]
async fn keys(State(state): State<AppState>) -> Json<Keys> {
    Json(Keys { algorithm: "Ed25519", keys: state.tickets.public_keys() })
}
