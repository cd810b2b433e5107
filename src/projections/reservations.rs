//! Reservations with their tickets, customer purchase history and customer lifetime value: all
//! fed by reservation streams, so one projector keeps them consistent with each other.

use futures::future::BoxFuture;
use serde_json::json;
use sqlx::PgConnection;

use super::Projector;
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::reservation::{ReservationEvent, ReservationStatus};

#[derive(Debug)]
pub struct Reservations;

fn cents(m: crate::domain::money::Money) -> i64 {
    i64::try_from(m.cents()).unwrap_or(i64::MAX)
}

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
                    let seats: Vec<_> = seats
                        .iter()
                        .map(|s| json!({"seat_id": s.seat_id.to_string(), "seat_number": s.label.map(|l| l.to_string())}))
                        .collect();
                    sqlx::query(
                        "UPDATE reservations SET seats = $2, pricing_tier = $3, unit_price_cents = $4, total_amount_cents = $5,
                                status = 'seats_reserved', updated_at = $6 WHERE reservation_id = $1",
                    )
                    .bind(id)
                    .bind(serde_json::Value::Array(seats))
                    .bind(tier.as_str())
                    .bind(cents(*unit_price))
                    .bind(cents(*total))
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
                    let row: (uuid::Uuid, uuid::Uuid, String) = sqlx::query_as(
                        "UPDATE reservations SET status = 'completed', captured_cents = captured_cents + $2, completed_at = $3, updated_at = $3
                         WHERE reservation_id = $1 RETURNING event_id, customer_id, section",
                    )
                    .bind(id)
                    .bind(cents(*captured))
                    .bind(completed)
                    .fetch_one(&mut *tx)
                    .await?;
                    let (event_id, customer_id, section) = row;
                    for ticket in tickets {
                        sqlx::query(
                            "INSERT INTO tickets (ticket_id, reservation_id, event_id, section, seat_id, seat_number, owner_id, status, issued_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, 'valid', $8)",
                        )
                        .bind(ticket.ticket_id.as_uuid())
                        .bind(id)
                        .bind(event_id)
                        .bind(&section)
                        .bind(ticket.seat.seat_id.as_uuid())
                        .bind(ticket.seat.label.map(|l| l.to_string()))
                        .bind(ticket.owner.as_uuid())
                        .bind(completed)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let count = i32::try_from(tickets.len()).unwrap_or(i32::MAX);
                    sqlx::query(
                        "INSERT INTO customer_purchases (reservation_id, customer_id, event_id, section, quantity, amount_cents, status, purchased_at)
                         VALUES ($1, $2, $3, $4, $5, $6, 'completed', $7)",
                    )
                    .bind(id)
                    .bind(customer_id)
                    .bind(event_id)
                    .bind(&section)
                    .bind(count)
                    .bind(cents(*captured))
                    .bind(completed)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO customer_lifetime_value (customer_id, purchases, tickets, spent_cents, refunded_cents, first_purchase_at, last_purchase_at)
                         VALUES ($1, 1, $2, $3, 0, $4, $4)
                         ON CONFLICT (customer_id) DO UPDATE SET purchases = customer_lifetime_value.purchases + 1,
                             tickets = customer_lifetime_value.tickets + $2, spent_cents = customer_lifetime_value.spent_cents + $3,
                             first_purchase_at = LEAST(customer_lifetime_value.first_purchase_at, $4),
                             last_purchase_at = GREATEST(customer_lifetime_value.last_purchase_at, $4)",
                    )
                    .bind(customer_id)
                    .bind(count)
                    .bind(cents(*captured))
                    .bind(completed)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO customer_sections (customer_id, event_id, section, tickets) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (customer_id, event_id, section) DO UPDATE SET tickets = customer_sections.tickets + $4",
                    )
                    .bind(customer_id)
                    .bind(event_id)
                    .bind(&section)
                    .bind(count)
                    .execute(&mut *tx)
                    .await?;
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
                    set_status(ReservationStatus::Refunded).execute(&mut *tx).await?;
                    sqlx::query("UPDATE tickets SET status = 'void' WHERE reservation_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE customer_purchases SET status = 'refunded' WHERE reservation_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                ReservationEvent::LatePaymentRefunded { amount, .. } => {
                    sqlx::query("UPDATE reservations SET captured_cents = captured_cents + $2, updated_at = $3 WHERE reservation_id = $1")
                        .bind(id)
                        .bind(cents(*amount))
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                ReservationEvent::RefundRecorded { amount, payment_id, .. } => {
                    // Only refunds of the payment that bought the tickets count against the
                    // purchase and lifetime value (a late or second payment never was spending).
                    let row: Option<(uuid::Uuid, bool)> = sqlx::query_as(
                        "UPDATE reservations SET refunded_cents = refunded_cents + $2, updated_at = $3 WHERE reservation_id = $1
                         RETURNING customer_id, (payment_id = $4 AND completed_at IS NOT NULL)",
                    )
                    .bind(id)
                    .bind(cents(*amount))
                    .bind(at)
                    .bind(payment_id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((customer, true)) = row {
                        sqlx::query("UPDATE customer_purchases SET refunded_cents = refunded_cents + $2 WHERE reservation_id = $1")
                            .bind(id)
                            .bind(cents(*amount))
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("UPDATE customer_lifetime_value SET refunded_cents = refunded_cents + $2 WHERE customer_id = $1")
                            .bind(customer)
                            .bind(cents(*amount))
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                ReservationEvent::TicketTransferred { ticket_id, to, at: moved, .. } => {
                    sqlx::query("UPDATE tickets SET owner_id = $2, transferred_at = $3 WHERE ticket_id = $1")
                        .bind(ticket_id.as_uuid())
                        .bind(to.as_uuid())
                        .bind(moved)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Ok(())
        })
    }
}
