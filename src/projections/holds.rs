//! The two events every hold adds to its reservation's stream (`Initiated`, then
//! `SeatsAllocated`), as columns: a flash sale writes thousands a second, and the read models
//! that follow them apply a batch's worth of each in one statement (see [`super::plan`]).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::bus::{BusEvent, DomainEvent};
use crate::domain::reservation::ReservationEvent;
use crate::domain::values::Timestamp;

pub const INITIATED: &str = "initiated";
pub const SEATS_ALLOCATED: &str = "seats_allocated";

/// The kind and key (the reservation) of a hold's event, for [`super::Projector::groups`];
/// `None` for any other event.
pub fn kind(event: &BusEvent) -> Option<(&'static str, Uuid)> {
    match &event.event {
        DomainEvent::Reservation(id, ReservationEvent::Initiated { .. }) => Some((INITIATED, id.as_uuid())),
        DomainEvent::Reservation(id, ReservationEvent::SeatsAllocated { .. }) => Some((SEATS_ALLOCATED, id.as_uuid())),
        _ => None,
    }
}

/// `Initiated` events as columns, in the order given (others are left out).
#[derive(Debug, Default)]
pub struct Initiated {
    pub reservation_ids: Vec<Uuid>,
    pub event_ids: Vec<Uuid>,
    pub customer_ids: Vec<Uuid>,
    pub sections: Vec<String>,
    pub quantities: Vec<i32>,
    /// When the buyer asked (the event's own time).
    pub at: Vec<Timestamp>,
    pub expires_at: Vec<Timestamp>,
}

impl Initiated {
    pub fn of(events: &[&BusEvent]) -> Self {
        let mut columns = Self::default();
        for event in events {
            if let DomainEvent::Reservation(
                id,
                ReservationEvent::Initiated { event_id, customer_id, section, quantity, at, expires_at, .. },
            ) = &event.event
            {
                columns.reservation_ids.push(id.as_uuid());
                columns.event_ids.push(event_id.as_uuid());
                columns.customer_ids.push(customer_id.as_uuid());
                columns.sections.push(section.as_str().to_owned());
                columns.quantities.push(i32::from(quantity.get()));
                columns.at.push(*at);
                columns.expires_at.push(*expires_at);
            }
        }
        columns
    }
}

/// `SeatsAllocated` events as columns, in the order given (others are left out).
#[derive(Debug, Default)]
pub struct SeatsAllocated {
    pub reservation_ids: Vec<Uuid>,
    pub seat_counts: Vec<i32>,
    pub tiers: Vec<String>,
    pub unit_prices: Vec<i64>,
    pub totals: Vec<i64>,
    /// When it was recorded.
    pub recorded_at: Vec<Timestamp>,
}

impl SeatsAllocated {
    pub fn of(events: &[&BusEvent]) -> Self {
        let mut columns = Self::default();
        for event in events {
            if let DomainEvent::Reservation(
                id,
                ReservationEvent::SeatsAllocated { seats, tier, unit_price, total, .. },
            ) = &event.event
            {
                columns.reservation_ids.push(id.as_uuid());
                columns.seat_counts.push(i32::try_from(seats.len()).unwrap_or(i32::MAX));
                columns.tiers.push(tier.as_str().to_owned());
                columns.unit_prices.push(unit_price.cents_i64());
                columns.totals.push(total.cents_i64());
                columns.recorded_at.push(event.recorded_at);
            }
        }
        columns
    }
}

/// Sets the tier, unit price and seat count of each allocated reservation in `table` (a read
/// model's row per reservation: `sales_pending`, `stg_reservations`), in one statement.
///
/// # Errors
/// The database.
pub async fn set_prices(tx: &mut PgConnection, table: &'static str, events: &[&BusEvent]) -> Result<(), sqlx::Error> {
    let c = SeatsAllocated::of(events);
    sqlx::query(&format!(
        "UPDATE {table} p SET pricing_tier = t.tier, unit_price_cents = t.unit_price, quantity = t.quantity
         FROM UNNEST($1::uuid[], $2::text[], $3::bigint[], $4::int[]) AS t(id, tier, unit_price, quantity)
         WHERE p.reservation_id = t.id"
    ))
    .bind(&c.reservation_ids)
    .bind(&c.tiers)
    .bind(&c.unit_prices)
    .bind(&c.seat_counts)
    .execute(tx)
    .await?;
    Ok(())
}
