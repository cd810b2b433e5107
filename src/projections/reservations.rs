//! Reservations with their tickets, customer purchase history and customer lifetime value: all
//! fed by reservation streams, so one projector keeps them consistent with each other.

use futures::future::BoxFuture;
use serde_json::json;
use sqlx::PgConnection;

use uuid::Uuid;

use super::{Projector, holds};
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::reservation::{ReservationEvent, ReservationStatus};

#[derive(Debug)]
pub struct Reservations;

impl Projector for Reservations {
    fn name(&self) -> &'static str {
        "reservations"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["reservations", "tickets", "customer_purchases", "customer_lifetime_value", "customer_sections"]
    }

    fn wants(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::Reservation(..))
    }

    fn groups(&self, event: &BusEvent) -> Option<(&'static str, Uuid)> {
        holds::kind(event)
    }

    fn joins(&self, kind: &'static str, earlier: &'static str) -> bool {
        holds::joins(kind, earlier)
    }

    fn awaiting(&self) -> &'static [&'static str] {
        holds::AWAITING_SEATS
    }

    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        kind: &'static str,
        events: &'a [&'a BusEvent],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if kind == holds::INITIATED {
                // Holds whose seats joined them are inserted with their seats (see holds::joins).
                let c = holds::Initiated::of(events);
                let seats: Vec<Option<serde_json::Value>> = c
                    .seats
                    .iter()
                    .map(|seats| seats.map(|seats| serde_json::Value::Array(seats.iter().map(seat_json).collect())))
                    .collect();
                sqlx::query(
                    "INSERT INTO reservations (reservation_id, event_id, customer_id, section, quantity, seats, pricing_tier,
                                               unit_price_cents, total_amount_cents, status, expires_at, created_at, updated_at)
                     SELECT id, event_id, customer_id, section, quantity, COALESCE(seats, '[]'), tier, unit_price, COALESCE(total, 0),
                            CASE WHEN seated_at IS NULL THEN 'initiated' ELSE 'seats_reserved' END, expires_at, at, COALESCE(seated_at, at)
                     FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::timestamptz[], $7::timestamptz[],
                                 $8::jsonb[], $9::text[], $10::bigint[], $11::bigint[], $12::timestamptz[])
                          AS t(id, event_id, customer_id, section, quantity, expires_at, at, seats, tier, unit_price, total, seated_at)",
                )
                .bind(&c.reservation_ids)
                .bind(&c.event_ids)
                .bind(&c.customer_ids)
                .bind(&c.sections)
                .bind(&c.quantities)
                .bind(&c.expires_at)
                .bind(&c.at)
                .bind(&seats)
                .bind(&c.tiers)
                .bind(&c.unit_prices)
                .bind(&c.totals)
                .bind(&c.seated_at)
                .execute(&mut *tx)
                .await?;
            } else {
                let c = holds::SeatsAllocated::of(events);
                let seats: Vec<serde_json::Value> = events
                    .iter()
                    .filter_map(|e| match &e.event {
                        DomainEvent::Reservation(_, ReservationEvent::SeatsAllocated { seats, .. }) => {
                            Some(serde_json::Value::Array(seats.iter().map(seat_json).collect()))
                        }
                        _ => None,
                    })
                    .collect();
                sqlx::query(
                    "UPDATE reservations r SET seats = t.seats, pricing_tier = t.tier, unit_price_cents = t.unit_price,
                            total_amount_cents = t.total, status = 'seats_reserved', updated_at = t.at
                     FROM UNNEST($1::uuid[], $2::jsonb[], $3::text[], $4::bigint[], $5::bigint[], $6::timestamptz[])
                          AS t(id, seats, tier, unit_price, total, at)
                     WHERE r.reservation_id = t.id",
                )
                .bind(&c.reservation_ids)
                .bind(&seats)
                .bind(&c.tiers)
                .bind(&c.unit_prices)
                .bind(&c.totals)
                .bind(&c.recorded_at)
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        })
    }

    #[allow(clippy::too_many_lines)] // one arm per event
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let DomainEvent::Reservation(rid, change) = &event.event else { return Ok(()) };
            let (id, at) = (rid.as_uuid(), event.recorded_at);
            let set_status = |status: ReservationStatus| {
                sqlx::query("UPDATE reservations SET status = $2, updated_at = $3 WHERE reservation_id = $1")
                    .bind(id)
                    .bind(status.as_str())
                    .bind(at)
            };
            match change {
                ReservationEvent::Initiated {
                    event_id,
                    customer_id,
                    section,
                    quantity,
                    at: created,
                    expires_at,
                    ..
                } => {
                    sqlx::query(
                        "INSERT INTO reservations (reservation_id, event_id, customer_id, section, quantity, status, expires_at, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, 'initiated', $6, $7, $7)",
                    )
                    .bind(id)
                    .bind(event_id.as_uuid())
                    .bind(customer_id.as_uuid())
                    .bind(section.as_str())
                    .bind(i32::from(quantity.get()))
                    .bind(expires_at)
                    .bind(created)
                    .execute(&mut *tx)
                    .await?;
                }
                ReservationEvent::SeatsAllocated { seats, tier, unit_price, total, .. } => {
                    let seats: Vec<_> = seats.iter().map(seat_json).collect();
                    sqlx::query(
                        "UPDATE reservations SET seats = $2, pricing_tier = $3, unit_price_cents = $4, total_amount_cents = $5,
                                status = 'seats_reserved', updated_at = $6 WHERE reservation_id = $1",
                    )
                    .bind(id)
                    .bind(serde_json::Value::Array(seats))
                    .bind(tier.as_str())
                    .bind(unit_price.cents_i64())
                    .bind(total.cents_i64())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                ReservationEvent::AllocationRejected { failure, .. } => {
                    sqlx::query("UPDATE reservations SET status = 'rejected', failure = $2, updated_at = $3 WHERE reservation_id = $1")
                        .bind(id)
                        .bind(failure.to_error().code())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                ReservationEvent::PaymentRequested { payment_id, .. } => {
                    sqlx::query(
                        "UPDATE reservations SET payment_id = $2, status = 'payment_pending', updated_at = $3 WHERE reservation_id = $1",
                    )
                    .bind(id)
                    .bind(payment_id.as_uuid())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                ReservationEvent::Completed { captured, tickets, at: completed, .. } => {
                    // The order, its tickets and the customer's figures in one round trip.
                    let count = i32::try_from(tickets.len()).unwrap_or(i32::MAX);
                    let found: i64 = sqlx::query_scalar(
                        "WITH r AS (
                             UPDATE reservations SET status = 'completed', captured_cents = captured_cents + $2,
                                                     completed_at = $3, updated_at = $3
                             WHERE reservation_id = $1 RETURNING event_id, customer_id, section
                         ), issued AS (
                             INSERT INTO tickets (ticket_id, reservation_id, event_id, section, seat_id, seat_number, owner_id, status, issued_at)
                             SELECT t.ticket_id, $1, r.event_id, r.section, t.seat_id, t.seat_number, t.owner_id, 'valid', $3
                             FROM r, UNNEST($4::uuid[], $5::uuid[], $6::text[], $7::uuid[]) AS t(ticket_id, seat_id, seat_number, owner_id)
                         ), purchase AS (
                             INSERT INTO customer_purchases (reservation_id, customer_id, event_id, section, quantity, amount_cents, status, purchased_at)
                             SELECT $1, r.customer_id, r.event_id, r.section, $8, $2, 'completed', $3 FROM r
                         ), lifetime AS (
                             INSERT INTO customer_lifetime_value (customer_id, purchases, tickets, spent_cents, refunded_cents, first_purchase_at, last_purchase_at)
                             SELECT r.customer_id, 1, $8, $2, 0, $3, $3 FROM r
                             ON CONFLICT (customer_id) DO UPDATE SET purchases = customer_lifetime_value.purchases + 1,
                                 tickets = customer_lifetime_value.tickets + $8, spent_cents = customer_lifetime_value.spent_cents + $2,
                                 first_purchase_at = LEAST(customer_lifetime_value.first_purchase_at, $3),
                                 last_purchase_at = GREATEST(customer_lifetime_value.last_purchase_at, $3)
                         ), sections AS (
                             INSERT INTO customer_sections (customer_id, event_id, section, tickets)
                             SELECT r.customer_id, r.event_id, r.section, $8 FROM r
                             ON CONFLICT (customer_id, event_id, section) DO UPDATE SET tickets = customer_sections.tickets + $8
                         )
                         SELECT count(*) FROM r",
                    )
                    .bind(id)
                    .bind(captured.cents_i64())
                    .bind(completed)
                    .bind(tickets.iter().map(|t| t.ticket_id.as_uuid()).collect::<Vec<_>>())
                    .bind(tickets.iter().map(|t| t.seat.seat_id.as_uuid()).collect::<Vec<_>>())
                    .bind(tickets.iter().map(|t| t.seat.label.map(|l| l.to_string())).collect::<Vec<_>>())
                    .bind(tickets.iter().map(|t| t.owner.as_uuid()).collect::<Vec<_>>())
                    .bind(count)
                    .fetch_one(&mut *tx)
                    .await?;
                    if found == 0 {
                        // Its Initiated comes first in the same stream: a read model missing it
                        // is broken; fail the batch (and say so) rather than lose the order.
                        return Err(sqlx::Error::RowNotFound);
                    }
                }
                ReservationEvent::PaymentFailed { reason, .. } => {
                    sqlx::query("UPDATE reservations SET status = 'compensated', failure = $2, updated_at = $3 WHERE reservation_id = $1")
                        .bind(id)
                        .bind(reason)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                ReservationEvent::Expired { .. } => {
                    set_status(ReservationStatus::Expired).execute(&mut *tx).await?;
                }
                ReservationEvent::Cancelled { .. } => {
                    set_status(ReservationStatus::Cancelled).execute(&mut *tx).await?;
                }
                ReservationEvent::Refunded { .. } => {
                    sqlx::query(
                        "WITH r AS (UPDATE reservations SET status = 'refunded', updated_at = $2 WHERE reservation_id = $1),
                              t AS (UPDATE tickets SET status = 'void' WHERE reservation_id = $1)
                         UPDATE customer_purchases SET status = 'refunded' WHERE reservation_id = $1",
                    )
                    .bind(id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                ReservationEvent::LatePaymentRefunded { amount, .. } => {
                    sqlx::query("UPDATE reservations SET captured_cents = captured_cents + $2, updated_at = $3 WHERE reservation_id = $1")
                        .bind(id)
                        .bind(amount.cents_i64())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                ReservationEvent::RefundRecorded { amount, payment_id, .. } => {
                    // Only refunds of the payment that bought the tickets count against the
                    // purchase and lifetime value (a late or second payment never was spending).
                    sqlx::query(
                        "WITH r AS (
                             UPDATE reservations SET refunded_cents = refunded_cents + $2, updated_at = $3 WHERE reservation_id = $1
                             RETURNING customer_id, (payment_id = $4 AND completed_at IS NOT NULL) AS spent
                         ), purchase AS (
                             UPDATE customer_purchases SET refunded_cents = refunded_cents + $2
                             WHERE reservation_id = $1 AND EXISTS (SELECT 1 FROM r WHERE r.spent)
                         )
                         UPDATE customer_lifetime_value c SET refunded_cents = c.refunded_cents + $2
                         FROM r WHERE c.customer_id = r.customer_id AND r.spent",
                    )
                    .bind(id)
                    .bind(amount.cents_i64())
                    .bind(at)
                    .bind(payment_id.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                }
                ReservationEvent::TicketTransferred { ticket_id, to, at: moved, .. } => {
                    sqlx::query("UPDATE tickets SET owner_id = $2, transferred_at = $3 WHERE ticket_id = $1")
                        .bind(ticket_id.as_uuid())
                        .bind(to.as_uuid())
                        .bind(moved)
                        .execute(&mut *tx)
                        .await?;
                }
                ReservationEvent::TicketCheckedIn { ticket_id, at: admitted } => {
                    sqlx::query("UPDATE tickets SET checked_in_at = $2 WHERE ticket_id = $1")
                        .bind(ticket_id.as_uuid())
                        .bind(admitted)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Ok(())
        })
    }
}

/// A held seat as the reservations read model shows it.
fn seat_json(seat: &crate::domain::inventory::SeatAssignment) -> serde_json::Value {
    json!({"seat_id": seat.seat_id.to_string(), "seat_number": seat.label.map(|l| l.to_string())})
}

/// A reservation as read models show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReservationRow {
    pub reservation_id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub customer_id: uuid::Uuid,
    pub section: String,
    pub quantity: i32,
    pub seats: serde_json::Value,
    pub total_amount_cents: i64,
    pub refunded_cents: i64,
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: crate::domain::values::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: crate::domain::values::Timestamp,
    pub payment_id: Option<uuid::Uuid>,
    /// The event's name and date, as the catalogue has them.
    pub event_name: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub event_date: Option<crate::domain::values::Timestamp>,
}

const RESERVATION_COLUMNS: &str = "r.reservation_id, r.event_id, r.customer_id, r.section, r.quantity, r.seats, \
     r.total_amount_cents, r.refunded_cents, r.status, r.expires_at, r.created_at, r.payment_id, \
     e.name AS event_name, e.starts_at AS event_date";

/// A page of a customer's reservations, newest first, with how many there are (rejected
/// attempts left out: they never held seats).
///
/// # Errors
/// The database.
pub async fn for_customer(
    pool: &sqlx::PgPool,
    customer: uuid::Uuid,
    page: crate::http::paging::Page,
) -> Result<(Vec<ReservationRow>, i64), sqlx::Error> {
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservations WHERE customer_id = $1 AND status <> 'rejected'")
            .bind(customer)
            .fetch_one(pool)
            .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT {RESERVATION_COLUMNS} FROM reservations r LEFT JOIN events_catalogue e USING (event_id)
         WHERE r.customer_id = $1 AND r.status <> 'rejected'
         ORDER BY r.created_at DESC, r.reservation_id LIMIT $2 OFFSET $3"
    ))
    .bind(customer)
    .bind(page.per_page)
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// A ticket as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TicketRow {
    pub ticket_id: uuid::Uuid,
    pub reservation_id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub section: String,
    pub seat_number: Option<String>,
    /// `valid` or `void` (refunded).
    pub status: String,
    /// The event's name, date and venue, as the catalogue has them.
    pub event_name: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub event_date: Option<crate::domain::values::Timestamp>,
    pub venue_name: Option<String>,
}

/// A page of the tickets someone holds now, newest first, with how many there are
/// (transferred ones belong to their new owner only).
///
/// # Errors
/// The database.
pub async fn tickets_of(
    pool: &sqlx::PgPool,
    owner: uuid::Uuid,
    page: crate::http::paging::Page,
) -> Result<(Vec<TicketRow>, i64), sqlx::Error> {
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tickets WHERE owner_id = $1").bind(owner).fetch_one(pool).await?;
    let rows = sqlx::query_as(
        "SELECT t.ticket_id, t.reservation_id, t.event_id, t.section, t.seat_number, t.status,
                e.name AS event_name, e.starts_at AS event_date, e.venue_name
         FROM tickets t LEFT JOIN events_catalogue e USING (event_id)
         WHERE t.owner_id = $1 ORDER BY t.issued_at DESC, t.ticket_id LIMIT $2 OFFSET $3",
    )
    .bind(owner)
    .bind(page.per_page)
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// One purchase in a customer's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Purchase {
    pub reservation_id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub event_name: Option<String>,
    pub section: String,
    pub quantity: i32,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub purchased_at: crate::domain::values::Timestamp,
}

/// A page of a customer's purchases, newest first, with the total count.
///
/// # Errors
/// The database.
pub async fn history(
    pool: &sqlx::PgPool,
    customer: uuid::Uuid,
    page: crate::http::paging::Page,
) -> Result<(Vec<Purchase>, i64), sqlx::Error> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM customer_purchases WHERE customer_id = $1")
        .bind(customer)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query_as(
        "SELECT p.reservation_id, p.event_id, e.name AS event_name, p.section, p.quantity, p.amount_cents, p.refunded_cents,
                p.status, p.purchased_at
         FROM customer_purchases p LEFT JOIN events_catalogue e USING (event_id)
         WHERE p.customer_id = $1 ORDER BY p.purchased_at DESC, p.reservation_id LIMIT $2 OFFSET $3",
    )
    .bind(customer)
    .bind(page.per_page)
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// What a customer is worth.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LifetimeValue {
    pub customer_id: uuid::Uuid,
    pub purchases: i32,
    pub tickets: i32,
    pub spent_cents: i64,
    pub refunded_cents: i64,
    pub net_cents: i64,
    pub favourite_section: Option<String>,
    /// `None` until the first purchase.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_purchase_at: Option<crate::domain::values::Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_purchase_at: Option<crate::domain::values::Timestamp>,
}

impl LifetimeValue {
    /// A customer who has bought nothing yet.
    pub fn none_yet(customer_id: uuid::Uuid) -> Self {
        Self {
            customer_id,
            purchases: 0,
            tickets: 0,
            spent_cents: 0,
            refunded_cents: 0,
            net_cents: 0,
            favourite_section: None,
            first_purchase_at: None,
            last_purchase_at: None,
        }
    }
}

/// # Errors
/// The database.
pub async fn lifetime_value(pool: &sqlx::PgPool, customer: uuid::Uuid) -> Result<Option<LifetimeValue>, sqlx::Error> {
    sqlx::query_as(
        "SELECT v.customer_id, v.purchases, v.tickets, v.spent_cents, v.refunded_cents, v.spent_cents - v.refunded_cents AS net_cents,
                (SELECT section FROM customer_sections s WHERE s.customer_id = v.customer_id
                 GROUP BY section ORDER BY sum(tickets) DESC, section LIMIT 1) AS favourite_section,
                v.first_purchase_at, v.last_purchase_at
         FROM customer_lifetime_value v WHERE v.customer_id = $1",
    )
    .bind(customer)
    .fetch_optional(pool)
    .await
}

/// An order of an event as its organiser sees it: the reservation, its payment, and whether its
/// tickets were let in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EventOrder {
    pub reservation_id: uuid::Uuid,
    pub customer_id: uuid::Uuid,
    pub section: String,
    pub quantity: i32,
    pub seats: serde_json::Value,
    pub total_amount_cents: i64,
    pub refunded_cents: i64,
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: crate::domain::values::Timestamp,
    pub payment_id: Option<uuid::Uuid>,
    /// The payment's status: `pending`, `captured`, `declined`, `partially_refunded`, `refunded`.
    pub payment_status: Option<String>,
    pub captured_cents: i64,
    pub card_last4: Option<String>,
    pub tickets_admitted: i64,
}

/// A page of an event's orders, newest first, optionally one buyer's or of one status.
///
/// # Errors
/// The database.
pub async fn for_event(
    pool: &sqlx::PgPool,
    event_id: uuid::Uuid,
    customer: Option<uuid::Uuid>,
    status: Option<&str>,
    page: crate::http::paging::Page,
) -> Result<(Vec<EventOrder>, i64), sqlx::Error> {
    let condition = "r.event_id = $1 AND r.status <> 'rejected' AND ($2::uuid IS NULL OR r.customer_id = $2)
                     AND ($3::text IS NULL OR r.status = $3)";
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM reservations r WHERE {condition}"))
        .bind(event_id)
        .bind(customer)
        .bind(status)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT r.reservation_id, r.customer_id, r.section, r.quantity, r.seats, r.total_amount_cents, r.refunded_cents,
                r.status, r.created_at, r.payment_id, p.status AS payment_status, r.captured_cents, p.card_last4,
                (SELECT count(*) FROM tickets t WHERE t.reservation_id = r.reservation_id AND t.checked_in_at IS NOT NULL)
                    AS tickets_admitted
         FROM reservations r LEFT JOIN payments p ON p.payment_id = r.payment_id
         WHERE {condition} ORDER BY r.created_at DESC, r.reservation_id LIMIT $4 OFFSET $5"
    ))
    .bind(event_id)
    .bind(customer)
    .bind(status)
    .bind(page.per_page)
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// What cancelling an event would refund: its paid orders and the money still refundable on them.
///
/// # Errors
/// The database.
pub async fn refundable(pool: &sqlx::PgPool, event_id: uuid::Uuid) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), COALESCE(sum(captured_cents - refunded_cents), 0)::bigint FROM reservations
         WHERE event_id = $1 AND status = 'completed'",
    )
    .bind(event_id)
    .fetch_one(pool)
    .await
}

/// Tickets of an event let in at the door, and tickets valid in all.
///
/// # Errors
/// The database.
pub async fn admissions(pool: &sqlx::PgPool, event_id: uuid::Uuid) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE checked_in_at IS NOT NULL), count(*) FILTER (WHERE status = 'valid')
         FROM tickets WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_one(pool)
    .await
}
