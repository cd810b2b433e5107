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

/// Moves a hold's seats to `to` ("reserved", "sold" or "available"), adjusts the counters and
/// notifies live feeds, in one statement (one round trip: this projector is the read side's
/// bottleneck). A hold that is not there changes nothing.
async fn move_hold(
    tx: &mut PgConnection,
    event_id: Uuid,
    reservation: Uuid,
    to: &str,
    hold_status: &str,
    at: crate::domain::values::Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH old AS (
             SELECT section, positions, cardinality(positions) AS n,
                    CASE status WHEN 'held' THEN 'reserved' WHEN 'sold' THEN 'sold' ELSE 'available' END AS from_col
             FROM inventory_holds WHERE event_id = $1 AND reservation_id = $2
         ), target AS (
             SELECT CASE $4::text WHEN 'held' THEN 'reserved' WHEN 'sold' THEN 'sold' ELSE 'available' END AS to_col
         ), counts AS (
             UPDATE section_availability s SET
                 available = s.available + CASE WHEN t.to_col = 'available' THEN o.n ELSE 0 END
                                         - CASE WHEN o.from_col = 'available' THEN o.n ELSE 0 END,
                 reserved = s.reserved + CASE WHEN t.to_col = 'reserved' THEN o.n ELSE 0 END
                                       - CASE WHEN o.from_col = 'reserved' THEN o.n ELSE 0 END,
                 sold = s.sold + CASE WHEN t.to_col = 'sold' THEN o.n ELSE 0 END
                               - CASE WHEN o.from_col = 'sold' THEN o.n ELSE 0 END,
                 last_updated = $5
             FROM old o, target t
             WHERE s.event_id = $1 AND s.section = o.section AND o.from_col <> t.to_col
         ), seats AS (
             UPDATE seat_status s
             SET status = $3::text, reservation_id = CASE WHEN $3::text = 'available' THEN NULL ELSE $2 END
             FROM old o
             WHERE s.event_id = $1 AND s.section = o.section AND s.position = ANY(o.positions)
         ), hold AS (
             UPDATE inventory_holds SET status = $4::text WHERE event_id = $1 AND reservation_id = $2
         )
         SELECT pg_notify($6, $1::text)",
    )
    .bind(event_id)
    .bind(reservation)
    .bind(to)
    .bind(hold_status)
    .bind(at)
    .bind(CHANGED_CHANNEL)
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

    fn groups(&self, event: &BusEvent) -> Option<(&'static str, Uuid)> {
        match &event.event {
            DomainEvent::Inventory(_, InventoryEvent::SeatsReserved { reservation_id, .. }) => {
                Some(("seats_reserved", reservation_id.as_uuid()))
            }
            _ => None,
        }
    }

    /// Holds (the only kind gathered): their rows, the counters, the seats and one notification
    /// per event, in one statement. A batch's positions come flat, each with its hold's number.
    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        _kind: &'static str,
        events: &'a [&'a BusEvent],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let (mut event_ids, mut reservation_ids, mut sections, mut counts, mut at) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let (mut owners, mut positions) = (Vec::new(), Vec::<i32>::new());
            for event in events {
                let DomainEvent::Inventory(
                    event_id,
                    InventoryEvent::SeatsReserved { reservation_id, section, positions: seats, .. },
                ) = &event.event
                else {
                    continue;
                };
                event_ids.push(event_id.as_uuid());
                reservation_ids.push(reservation_id.as_uuid());
                sections.push(section.as_str());
                counts.push(i32::try_from(seats.len()).unwrap_or(i32::MAX));
                at.push(event.recorded_at);
                let number = i32::try_from(event_ids.len()).unwrap_or(i32::MAX);
                for seat in seats {
                    owners.push(number);
                    positions.push(i32::try_from(*seat).unwrap_or(i32::MAX));
                }
            }
            sqlx::query(
                "WITH h AS (
                     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::timestamptz[])
                         WITH ORDINALITY AS h(event_id, reservation_id, section, seats, at, n)
                 ), p AS (
                     SELECT n, array_agg(position ORDER BY k) AS positions
                     FROM UNNEST($6::int[], $7::int[]) WITH ORDINALITY AS s(n, position, k) GROUP BY n
                 ), hold AS (
                     INSERT INTO inventory_holds (event_id, reservation_id, section, positions, status)
                     SELECT h.event_id, h.reservation_id, h.section, COALESCE(p.positions, '{}'), 'held'
                     FROM h LEFT JOIN p ON p.n = h.n ORDER BY h.n
                 ), counts AS (
                     UPDATE section_availability a
                     SET available = a.available - c.seats, reserved = a.reserved + c.seats, last_updated = c.at
                     FROM (SELECT event_id, section, sum(seats)::int AS seats, (array_agg(at ORDER BY n DESC))[1] AS at
                           FROM h GROUP BY event_id, section) c
                     WHERE a.event_id = c.event_id AND a.section = c.section
                 ), seats AS (
                     UPDATE seat_status t SET status = 'reserved', reservation_id = h.reservation_id
                     FROM UNNEST($6::int[], $7::int[]) AS s(n, position) JOIN h ON h.n = s.n
                     WHERE t.event_id = h.event_id AND t.section = h.section AND t.position = s.position
                 )
                 SELECT pg_notify($8, e::text) FROM (SELECT DISTINCT event_id AS e FROM h) d",
            )
            .bind(&event_ids)
            .bind(&reservation_ids)
            .bind(&sections)
            .bind(&counts)
            .bind(&at)
            .bind(&owners)
            .bind(&positions)
            .bind(CHANGED_CHANNEL)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let DomainEvent::Inventory(event_id, change) = &event.event else { return Ok(()) };
            let (id, at) = (event_id.as_uuid(), event.recorded_at);
            match change {
                InventoryEvent::Initialized { sections, .. } | InventoryEvent::Redefined { sections } => {
                    // A draft's new sections replace its old ones (none of which held anything).
                    for table in ["section_availability", "seat_status"] {
                        sqlx::query(&format!("DELETE FROM {table} WHERE event_id = $1"))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    // Live feeds on every instance learn of the change when this transaction
                    // commits (the other changes notify inside their own statement).
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANGED_CHANNEL)
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
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
                InventoryEvent::SeatsReserved { reservation_id, section, positions, .. } => {
                    let positions: Vec<i32> = positions.iter().map(|p| i32::try_from(*p).unwrap_or(i32::MAX)).collect();
                    // The hold, the counters, the seats and the notification in one round trip.
                    sqlx::query(
                        "WITH hold AS (
                             INSERT INTO inventory_holds (event_id, reservation_id, section, positions, status)
                             VALUES ($1, $2, $3, $4, 'held')
                         ), counts AS (
                             UPDATE section_availability
                             SET available = available - cardinality($4::int[]),
                                 reserved = reserved + cardinality($4::int[]), last_updated = $5
                             WHERE event_id = $1 AND section = $3
                         ), seats AS (
                             UPDATE seat_status SET status = 'reserved', reservation_id = $2
                             WHERE event_id = $1 AND section = $3 AND position = ANY($4)
                         )
                         SELECT pg_notify($6, $1::text)",
                    )
                    .bind(id)
                    .bind(reservation_id.as_uuid())
                    .bind(section.as_str())
                    .bind(&positions)
                    .bind(at)
                    .bind(CHANGED_CHANNEL)
                    .execute(&mut *tx)
                    .await?;
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

/// One section's counts as the API shows them (the map key is its name).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = SectionCounts)]
pub struct Counts {
    pub total_capacity: i32,
    pub available: i32,
    pub reserved: i32,
    pub sold: i32,
    #[schema(value_type = String, format = DateTime)]
    pub last_updated: crate::domain::values::Timestamp,
}

/// API.md's `sections` object: counts by section name.
///
/// # Errors
/// The database.
pub async fn sections_by_name(
    pool: &sqlx::PgPool,
    event_id: Uuid,
) -> Result<std::collections::BTreeMap<String, Counts>, sqlx::Error> {
    Ok(for_event(pool, event_id)
        .await?
        .into_iter()
        .map(|c| {
            let counts = Counts {
                total_capacity: c.total_capacity,
                available: c.available,
                reserved: c.reserved,
                sold: c.sold,
                last_updated: c.last_updated,
            };
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
