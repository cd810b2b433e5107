//! Payments as buyers and admins look them up.

use futures::future::BoxFuture;
use sqlx::PgConnection;

use super::Projector;
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::payment::PaymentEvent;

#[derive(Debug)]
pub struct Payments;

impl Projector for Payments {
    fn name(&self) -> &'static str {
        "payments"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["payments"]
    }

    fn wants(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::Payment(..))
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let DomainEvent::Payment(pid, change) = &event.event else { return Ok(()) };
            let (id, at) = (pid.as_uuid(), event.recorded_at);
            match change {
                PaymentEvent::Started { reservation_id, customer_id, amount, at: created, .. } => {
                    sqlx::query(
                        "INSERT INTO payments (payment_id, reservation_id, customer_id, amount_cents, status, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
                    )
                    .bind(id)
                    .bind(reservation_id.as_uuid())
                    .bind(customer_id.as_uuid())
                    .bind(amount.cents_i64())
                    .bind(created)
                    .execute(&mut *tx)
                    .await?;
                }
                PaymentEvent::Captured { card_last4, .. } => {
                    sqlx::query("UPDATE payments SET status = 'captured', card_last4 = $2, updated_at = $3 WHERE payment_id = $1")
                        .bind(id)
                        .bind(card_last4.to_string())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                PaymentEvent::Declined { card_last4, reason, .. } => {
                    sqlx::query(
                        "UPDATE payments SET status = 'declined', card_last4 = $2, decline_reason = $3, updated_at = $4 WHERE payment_id = $1",
                    )
                    .bind(id)
                    .bind(card_last4.map(|c| c.to_string()))
                    .bind(reason)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                PaymentEvent::Refunded { amount, .. } => {
                    sqlx::query(
                        "UPDATE payments SET refunded_cents = refunded_cents + $2,
                                status = CASE WHEN refunded_cents + $2 >= amount_cents THEN 'refunded' ELSE 'partially_refunded' END,
                                updated_at = $3
                         WHERE payment_id = $1",
                    )
                    .bind(id)
                    .bind(amount.cents_i64())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Ok(())
        })
    }
}

/// A payment as buyers and admins see it (API.md `Payment`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct PaymentRow {
    pub payment_id: uuid::Uuid,
    pub reservation_id: uuid::Uuid,
    pub customer_id: uuid::Uuid,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub status: String,
    pub card_last4: Option<String>,
    pub created_at: crate::domain::values::Timestamp,
}

/// # Errors
/// The database.
pub async fn get(pool: &sqlx::PgPool, payment_id: uuid::Uuid) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT payment_id, reservation_id, customer_id, amount_cents, refunded_cents, status, card_last4, created_at
         FROM payments WHERE payment_id = $1",
    )
    .bind(payment_id)
    .fetch_optional(pool)
    .await
}
