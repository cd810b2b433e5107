//! Available seats per section, and per seat for numbered sections. May lag the write side by a
//! moment; "can I still buy?" is answered by the inventory aggregate itself.

use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use super::Projector;
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::inventory::InventoryEvent;

#[derive(Debug)]
pub struct Availability;

/// Moves a hold's seats to `to` ("reserved", "sold" or "available") and adjusts the counters.
async fn move_hold(
    tx: &mut PgConnection,
    event_id: Uuid,
    reservation: Uuid,
    to: &str,
    hold_status: &str,
    at: crate::domain::values::Timestamp,
) -> Result<(), sqlx::Error> {
    let hold: Option<(String, Vec<i32>, String)> = sqlx::query_as(
        "SELECT section, positions, status FROM inventory_holds WHERE event_id = $1 AND reservation_id = $2",
    )
    .bind(event_id)
    .bind(reservation)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((section, positions, from)) = hold else { return Ok(()) };
    let n = i32::try_from(positions.len()).unwrap_or(i32::MAX);
    let column = |status: &str| match status {
        "held" => "reserved",
        "sold" => "sold",
        _ => "available",
    };
    let (from_col, to_col) = (column(&from), column(hold_status));
    if from_col != to_col {
        sqlx::query(&format!(
            "UPDATE section_availability SET {from_col} = {from_col} - $3, {to_col} = {to_col} + $3, last_updated = $4
             WHERE event_id = $1 AND section = $2"
        ))
        .bind(event_id)
        .bind(&section)
        .bind(n)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE seat_status SET status = $4, reservation_id = CASE WHEN $4 = 'available' THEN NULL ELSE $5 END
         WHERE event_id = $1 AND section = $2 AND position = ANY($3)",
    )
    .bind(event_id)
    .bind(&section)
    .bind(&positions)
    .bind(to)
    .bind(reservation)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE inventory_holds SET status = $3 WHERE event_id = $1 AND reservation_id = $2")
        .bind(event_id)
        .bind(reservation)
        .bind(hold_status)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl Projector for Availability {
    fn name(&self) -> &'static str {
        "availability"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["section_availability", "seat_status", "inventory_holds"]
    }

    fn wants(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::Inventory(..))
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let DomainEvent::Inventory(event_id, change) = &event.event else { return Ok(()) };
            let (id, at) = (event_id.as_uuid(), event.recorded_at);
            let counts_change = !matches!(
                change,
                InventoryEvent::SalesOpened { .. }
                    | InventoryEvent::SalesClosed { .. }
                    | InventoryEvent::EventCancelled
                    | InventoryEvent::ReservationVoided { .. }
            );
            if counts_change {
                // Live feeds on every instance learn of the change when this transaction commits
                // (PostgreSQL folds identical notifications of one transaction into one).
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANGED_CHANNEL)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            match change {
                InventoryEvent::Initialized { sections, .. } => {
                    for (name, layout) in sections {
                        let capacity = i32::try_from(layout.capacity()).unwrap_or(i32::MAX);
                        sqlx::query(
                            "INSERT INTO section_availability (event_id, section, seating, total_capacity, available, reserved, sold, last_updated)
                             VALUES ($1, $2, $3, $4, $4, 0, 0, $5)",
                        )
                        .bind(id)
                        .bind(name.as_str())
                        .bind(layout.seating())
                        .bind(capacity)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                        if layout.is_numbered() {
                            let positions: Vec<i32> = (0..capacity).collect();
                            let labels: Vec<String> = (0..layout.capacity())
                                .map(|p| layout.label(p).map(|l| l.to_string()).unwrap_or_default())
                                .collect();
                            sqlx::query(
                                "INSERT INTO seat_status (event_id, section, position, label, status)
                                 SELECT $1, $2, p, l, 'available' FROM UNNEST($3::int[], $4::text[]) AS t(p, l)",
                            )
                            .bind(id)
                            .bind(name.as_str())
                            .bind(&positions)
                            .bind(&labels)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                InventoryEvent::SeatsReserved { reservation_id, section, positions } => {
                    let positions: Vec<i32> = positions.iter().map(|p| i32::try_from(*p).unwrap_or(i32::MAX)).collect();
                    sqlx::query(
                        "INSERT INTO inventory_holds (event_id, reservation_id, section, positions, status) VALUES ($1, $2, $3, $4, 'available')",
                    )
                    .bind(id)
                    .bind(reservation_id.as_uuid())
                    .bind(section.as_str())
                    .bind(&positions)
                    .execute(&mut *tx)
                    .await?;
                    move_hold(tx, id, reservation_id.as_uuid(), "reserved", "held", at).await?;
                }
                InventoryEvent::SeatsSold { reservation_id } => {
                    move_hold(tx, id, reservation_id.as_uuid(), "sold", "sold", at).await?;
                }
                InventoryEvent::SeatsReleased { reservation_id } => {
                    move_hold(tx, id, reservation_id.as_uuid(), "available", "released", at).await?;
                }
                InventoryEvent::SoldSeatsReturned { reservation_id } => {
                    move_hold(tx, id, reservation_id.as_uuid(), "available", "returned", at).await?;
                }
                InventoryEvent::SalesOpened { .. }
                | InventoryEvent::SalesClosed { .. }
                | InventoryEvent::EventCancelled
                | InventoryEvent::ReservationVoided { .. } => {}
            }
            Ok(())
        })
    }
}

/// The `NOTIFY` channel that carries the id of an event whose availability changed.
pub const CHANGED_CHANNEL: &str = "availability_changed";

/// API.md's `sections` object: counts by section name.
///
/// # Errors
/// The database.
pub async fn sections_by_name(
    pool: &sqlx::PgPool,
    event_id: Uuid,
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, sqlx::Error> {
    Ok(for_event(pool, event_id)
        .await?
        .into_iter()
        .map(|c| {
            let counts = serde_json::json!({
                "total_capacity": c.total_capacity,
                "available": c.available,
                "reserved": c.reserved,
                "sold": c.sold,
                "last_updated": c.last_updated,
            });
            (c.section, counts)
        })
        .collect())
}

/// Counts for one section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct SectionCounts {
    pub section: String,
    pub seating: String,
    pub total_capacity: i32,
    pub available: i32,
    pub reserved: i32,
    pub sold: i32,
    pub last_updated: crate::domain::values::Timestamp,
}

/// Every section of an event, by name.
///
/// # Errors
/// The database.
pub async fn for_event(pool: &sqlx::PgPool, event_id: Uuid) -> Result<Vec<SectionCounts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT section, seating, total_capacity, available, reserved, sold, last_updated
         FROM section_availability WHERE event_id = $1 ORDER BY section",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await
}

/// One numbered seat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct SeatRow {
    pub label: String,
    pub status: String,
}

/// The seats of a numbered section, in order (empty for general admission).
///
/// # Errors
/// The database.
pub async fn seats(pool: &sqlx::PgPool, event_id: Uuid, section: &str) -> Result<Vec<SeatRow>, sqlx::Error> {
    sqlx::query_as("SELECT label, status FROM seat_status WHERE event_id = $1 AND section = $2 ORDER BY position")
        .bind(event_id)
        .bind(section)
        .fetch_all(pool)
        .await
}
