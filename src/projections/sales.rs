//! Sales per event, by section and pricing tier: tickets, revenue and refunds.

use futures::future::BoxFuture;
use sqlx::PgConnection;

use super::Projector;
use super::holds::{HeldSeats, Hold};
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::reservation::ReservationEvent;
use crate::store::EventStore;

/// Sales per event, section and tier (`sales_by_tier`), and each completed sale
/// (`sales_pending`: one row per sale, for its refunds).
///
/// It keeps no row per hold. When a sale completes, its section, tier, price and seat count are
/// read from the reservation's own stream (see [`Hold`]). Earlier releases wrote a row into
/// `sales_pending` when a hold began and priced it when its seats came; the table keeps that
/// name, and their rows for holds that never sold. A completed sale whose hold has such a row
/// takes it over.
#[derive(Debug, Clone)]
pub struct Sales {
    store: EventStore,
}

impl Sales {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }
}

impl Projector for Sales {
    fn name(&self) -> &'static str {
        "sales"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["sales_by_tier", "sales_pending"]
    }

    fn wants(&self, event: &DomainEvent) -> bool {
        matches!(
            event,
            DomainEvent::Reservation(
                _,
                ReservationEvent::Completed { .. }
                    | ReservationEvent::Refunded { .. }
                    | ReservationEvent::RefundRecorded { .. }
            )
        )
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let DomainEvent::Reservation(rid, change) = &event.event else { return Ok(()) };
            let id = rid.as_uuid();
            match change {
                ReservationEvent::Completed { captured, payment_id, .. } => {
                    let Some(Hold {
                        event_id, section, seats: Some(HeldSeats { count, tier, unit_price_cents }), ..
                    }) = Hold::read(&self.store, &event.stream_id, event.version - 1).await?
                    else {
                        tracing::warn!(stream = %event.stream_id, "a completed sale without its hold's seats in the log: not counted");
                        return Ok(());
                    };
                    sqlx::query(
                        "WITH sale AS (
                           INSERT INTO sales_pending (reservation_id, event_id, section, quantity, pricing_tier, unit_price_cents, completed, payment_id)
                           VALUES ($1, $2, $3, $4, $5, $6, true, $7)
                           ON CONFLICT (reservation_id) DO UPDATE
                             SET event_id = EXCLUDED.event_id, section = EXCLUDED.section, quantity = EXCLUDED.quantity,
                                 pricing_tier = EXCLUDED.pricing_tier, unit_price_cents = EXCLUDED.unit_price_cents,
                                 completed = true, payment_id = EXCLUDED.payment_id
                             -- A sale counted before is not counted again, however it is redelivered.
                             WHERE NOT sales_pending.completed
                           RETURNING event_id, section, pricing_tier, quantity)
                         INSERT INTO sales_by_tier (event_id, section, pricing_tier, tickets_sold, revenue_cents, refunds_cents, tickets_refunded)
                         SELECT event_id, section, pricing_tier, quantity, $8, 0, 0 FROM sale
                         ON CONFLICT (event_id, section, pricing_tier) DO UPDATE
                           SET tickets_sold = sales_by_tier.tickets_sold + EXCLUDED.tickets_sold,
                               revenue_cents = sales_by_tier.revenue_cents + EXCLUDED.revenue_cents",
                    )
                    .bind(id)
                    .bind(event_id)
                    .bind(&section)
                    .bind(count)
                    .bind(&tier)
                    .bind(unit_price_cents)
                    .bind(payment_id.as_uuid())
                    .bind(captured.cents_i64())
                    .execute(&mut *tx)
                    .await?;
                }
                ReservationEvent::Refunded { .. } => {
                    sqlx::query(
                        "UPDATE sales_by_tier t SET tickets_refunded = t.tickets_refunded + p.quantity
                         FROM sales_pending p
                         WHERE p.reservation_id = $1 AND p.completed
                           AND t.event_id = p.event_id AND t.section = p.section AND t.pricing_tier = p.pricing_tier",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                ReservationEvent::RefundRecorded { amount, payment_id, .. } => {
                    // Refunds of the sale's own payment only: a late or second payment refunded
                    // in full never was revenue.
                    sqlx::query(
                        "UPDATE sales_by_tier t SET refunds_cents = t.refunds_cents + $2
                         FROM sales_pending p
                         WHERE p.reservation_id = $1 AND p.completed AND p.payment_id = $3
                           AND t.event_id = p.event_id AND t.section = p.section AND t.pricing_tier = p.pricing_tier",
                    )
                    .bind(id)
                    .bind(amount.cents_i64())
                    .bind(payment_id.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}

/// One section × tier line of an event's sales.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct TierSales {
    pub section: String,
    pub pricing_tier: String,
    pub tickets_sold: i32,
    pub tickets_refunded: i32,
    pub revenue_cents: i64,
    pub refunds_cents: i64,
}

/// An event's sales: totals plus the lines they add up from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventSales {
    pub tickets_sold: i64,
    pub gross_revenue_cents: i64,
    pub refunds_cents: i64,
    pub net_revenue_cents: i64,
    /// Gross revenue per ticket sold, rounded down to the cent.
    pub average_price_cents: i64,
    pub lines: Vec<TierSales>,
}

/// # Errors
/// The database.
pub async fn for_event(pool: &sqlx::PgPool, event_id: uuid::Uuid) -> Result<EventSales, sqlx::Error> {
    let lines: Vec<TierSales> = sqlx::query_as(
        "SELECT section, pricing_tier, tickets_sold, tickets_refunded, revenue_cents, refunds_cents
         FROM sales_by_tier WHERE event_id = $1 ORDER BY section, pricing_tier",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?;
    let tickets_sold: i64 = lines.iter().map(|l| i64::from(l.tickets_sold)).sum();
    let gross: i64 = lines.iter().map(|l| l.revenue_cents).sum();
    let refunds: i64 = lines.iter().map(|l| l.refunds_cents).sum();
    Ok(EventSales {
        tickets_sold,
        gross_revenue_cents: gross,
        refunds_cents: refunds,
        net_revenue_cents: gross - refunds,
        average_price_cents: if tickets_sold == 0 { 0 } else { gross / tickets_sold },
        lines,
    })
}
