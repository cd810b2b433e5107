//! Sales per event, by section and pricing tier: tickets, revenue and refunds.

use futures::future::BoxFuture;
use sqlx::PgConnection;

use super::{Projector, holds};
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::reservation::ReservationEvent;

#[derive(Debug)]
pub struct Sales;

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
                ReservationEvent::Initiated { .. }
                    | ReservationEvent::SeatsAllocated { .. }
                    | ReservationEvent::Completed { .. }
                    | ReservationEvent::Refunded { .. }
                    | ReservationEvent::RefundRecorded { .. }
            )
        )
    }

    fn groups(&self, event: &BusEvent) -> Option<(&'static str, uuid::Uuid)> {
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
                // Holds whose seats joined them are inserted priced (see holds::joins).
                let c = holds::Initiated::of(events);
                sqlx::query(
                    "INSERT INTO sales_pending (reservation_id, event_id, section, quantity, pricing_tier, unit_price_cents)
                     SELECT id, event_id, section, COALESCE(seated, quantity), tier, unit_price
                     FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::int[], $6::text[], $7::bigint[])
                          AS t(id, event_id, section, quantity, seated, tier, unit_price)",
                )
                .bind(&c.reservation_ids)
                .bind(&c.event_ids)
                .bind(&c.sections)
                .bind(&c.quantities)
                .bind(&c.seat_counts)
                .bind(&c.tiers)
                .bind(&c.unit_prices)
                .execute(&mut *tx)
                .await?;
            } else {
                holds::set_prices(tx, "sales_pending", events).await?;
            }
            Ok(())
        })
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let DomainEvent::Reservation(rid, change) = &event.event else { return Ok(()) };
            let id = rid.as_uuid();
            match change {
                ReservationEvent::Initiated { event_id, section, quantity, .. } => {
                    sqlx::query("INSERT INTO sales_pending (reservation_id, event_id, section, quantity) VALUES ($1, $2, $3, $4)")
                        .bind(id)
                        .bind(event_id.as_uuid())
                        .bind(section.as_str())
                        .bind(i32::from(quantity.get()))
                        .execute(&mut *tx)
                        .await?;
                }
                ReservationEvent::SeatsAllocated { seats, tier, unit_price, .. } => {
                    sqlx::query("UPDATE sales_pending SET pricing_tier = $2, unit_price_cents = $3, quantity = $4 WHERE reservation_id = $1")
                        .bind(id)
                        .bind(tier.as_str())
                        .bind(unit_price.cents_i64())
                        .bind(i32::try_from(seats.len()).unwrap_or(i32::MAX))
                        .execute(&mut *tx)
                        .await?;
                }
                ReservationEvent::Completed { captured, payment_id, .. } => {
                    sqlx::query(
                        "WITH sale AS (UPDATE sales_pending SET completed = true, payment_id = $3 WHERE reservation_id = $1
                                       RETURNING event_id, section, pricing_tier, quantity)
                         INSERT INTO sales_by_tier (event_id, section, pricing_tier, tickets_sold, revenue_cents, refunds_cents, tickets_refunded)
                         SELECT event_id, section, pricing_tier, quantity, $2, 0, 0 FROM sale
                         ON CONFLICT (event_id, section, pricing_tier) DO UPDATE
                           SET tickets_sold = sales_by_tier.tickets_sold + EXCLUDED.tickets_sold,
                               revenue_cents = sales_by_tier.revenue_cents + EXCLUDED.revenue_cents",
                    )
                    .bind(id)
                    .bind(captured.cents_i64())
                    .bind(payment_id.as_uuid())
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
