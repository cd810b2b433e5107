//! `GET /api/events/{id}/reservations`: an event's orders for its organiser, newest first,
//! searchable by the buyer's email and filtered by status, each with its payment and check-ins.
//! Read models (the orders) and the auth database (the buyers' addresses).

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::consistency;
use super::error::{ApiError, ErrorBody, Json, Path, Query, Result};
use super::paging::PageQuery;
use super::session::AdminUser;
use crate::domain::DomainError;
use crate::domain::reservation::ReservationStatus;
use crate::projections::reservations::{self as read_model, EventOrder};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events/{id}/reservations", get(orders))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(orders), components(schemas(OrderView, OrderPage, EventOrder)))]
pub(super) struct Doc;

/// `?email=&status=&page=&per_page=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OrderQuery {
    /// The buyer's address (exact, any case).
    #[param(max_length = 254)]
    email: Option<String>,
    /// `seats_reserved`, `payment_pending`, `completed`, `expired`, `cancelled`, `compensated`, `refunded`.
    status: Option<String>,
    #[param(minimum = 1, maximum = 10000)]
    page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<i64>,
}

/// An order with its buyer's address.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: EventOrder,
    /// Absent if the account is gone.
    pub customer_email: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderView>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

#[utoipa::path(get, path = "/api/events/{id}/reservations", tag = "events", security(("session" = [])), params(("id" = Uuid, Path), OrderQuery),
    responses((status = 200, description = "Read model: the event's orders, newest first", body = OrderPage),
        (status = 403, description = "FORBIDDEN: admins only", body = ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody)))]
async fn orders(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
    Query(query): Query<OrderQuery>,
) -> Result<Json<OrderPage>> {
    let page = PageQuery { page: query.page, per_page: query.per_page }.page()?;
    // The admin who just refunded an order sees the refund in the list.
    consistency::caught_up(&state, admin.id, consistency::RESERVATIONS).await?;
    consistency::caught_up(&state, admin.id, consistency::PAYMENTS).await?;
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) if ReservationStatus::ALL.iter().any(|known| known.as_str() == s) => Some(s),
        Some(_) => return Err(DomainError::validation("status", "is not a reservation status").into()),
    };
    if crate::projections::catalogue::get(&state.projections, id).await?.is_none() {
        return Err(DomainError::EventNotFound.into());
    }
    let customer = match query.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(email) => {
            let email = crate::auth::parse_email(email)?;
            match state.auth.user_by_email(&email).await? {
                Some(user) => Some(user.id),
                // Nobody with that address: no orders, not an error.
                None => {
                    return Ok(Json(OrderPage {
                        orders: Vec::new(),
                        page: page.page,
                        per_page: page.per_page,
                        total: 0,
                    }));
                }
            }
        }
    };
    let (rows, total) = read_model::for_event(&state.projections, id, customer, status, page).await?;
    let ids: Vec<Uuid> = rows.iter().map(|o| o.customer_id).collect();
    let emails: HashMap<Uuid, String> = sqlx::query_as("SELECT user_id, email FROM users WHERE user_id = ANY($1)")
        .bind(&ids)
        .fetch_all(state.auth.users_db())
        .await
        .map_err(|e| ApiError::unavailable("auth_db", e))?
        .into_iter()
        .collect();
    let orders = rows
        .into_iter()
        .map(|order| {
            let customer_email = emails.get(&order.customer_id).cloned();
            OrderView { order, customer_email }
        })
        .collect();
    Ok(Json(OrderPage { orders, page: page.page, per_page: page.per_page, total }))
}
