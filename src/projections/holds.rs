//! The two events every hold adds to its reservation's stream (`Initiated`, then
//! `SeatsAllocated`), as columns: a flash sale writes thousands a second, and the read models
//! that follow them apply a batch's worth of each in one statement (see [`super::plan`]).

use std::collections::HashMap;

use uuid::Uuid;

use crate::bus::{BusEvent, DomainEvent};
use crate::domain::inventory::SeatAssignment;
use crate::domain::reservation::{Reservation, ReservationEvent};
use crate::domain::values::Timestamp;
use crate::store::{EventStore, StoreError};

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

/// Whether a read model that follows holds applies an event of `kind` with its hold's `earlier`
/// one (see [`super::Projector::joins`]): the seats with the start, so a hold started and seated
/// in one batch is one row inserted, not inserted and then updated.
pub fn joins(kind: &'static str, earlier: &'static str) -> bool {
    kind == SEATS_ALLOCATED && earlier == INITIATED
}

/// The kinds of event that wait for their hold's next one: a hold's start, which its seats
/// usually follow within milliseconds (see [`super::Projector::awaiting`]).
pub const AWAITING_SEATS: &[&str] = &[INITIATED];

/// `Initiated` events as columns, in the order given (others are left out), each with the
/// `SeatsAllocated` that joined it, if one did (`None` in the seat columns otherwise).
#[derive(Debug, Default)]
pub struct Initiated<'e> {
    pub reservation_ids: Vec<Uuid>,
    pub event_ids: Vec<Uuid>,
    pub customer_ids: Vec<Uuid>,
    pub sections: Vec<String>,
    pub quantities: Vec<i32>,
    /// When the buyer asked (the event's own time).
    pub at: Vec<Timestamp>,
    pub expires_at: Vec<Timestamp>,
    /// The seats allocated, when they joined the start.
    pub seats: Vec<Option<&'e [SeatAssignment]>>,
    pub seat_counts: Vec<Option<i32>>,
    pub tiers: Vec<Option<String>>,
    pub unit_prices: Vec<Option<i64>>,
    pub totals: Vec<Option<i64>>,
    /// When the seats were recorded.
    pub seated_at: Vec<Option<Timestamp>>,
}

impl<'e> Initiated<'e> {
    pub fn of(events: &[&'e BusEvent]) -> Self {
        let mut columns = Self::default();
        let mut row_of: HashMap<Uuid, usize> = HashMap::new();
        for event in events {
            match &event.event {
                DomainEvent::Reservation(
                    id,
                    ReservationEvent::Initiated { event_id, customer_id, section, quantity, at, expires_at, .. },
                ) => {
                    row_of.insert(id.as_uuid(), columns.reservation_ids.len());
                    columns.reservation_ids.push(id.as_uuid());
                    columns.event_ids.push(event_id.as_uuid());
                    columns.customer_ids.push(customer_id.as_uuid());
                    columns.sections.push(section.as_str().to_owned());
                    columns.quantities.push(i32::from(quantity.get()));
                    columns.at.push(*at);
                    columns.expires_at.push(*expires_at);
                    columns.seats.push(None);
                    columns.seat_counts.push(None);
                    columns.tiers.push(None);
                    columns.unit_prices.push(None);
                    columns.totals.push(None);
                    columns.seated_at.push(None);
                }
                _ => {
                    if let Some(a) = Allocation::of(event)
                        && let Some(&row) = row_of.get(&a.reservation_id)
                    {
                        columns.seats[row] = Some(a.seats);
                        columns.seat_counts[row] = Some(a.seat_count);
                        columns.tiers[row] = Some(a.tier);
                        columns.unit_prices[row] = Some(a.unit_price);
                        columns.totals[row] = Some(a.total);
                        columns.seated_at[row] = Some(a.recorded_at);
                    }
                }
            }
        }
        columns
    }
}

/// One `SeatsAllocated` event's values as the read models store them.
struct Allocation<'e> {
    reservation_id: Uuid,
    seats: &'e [SeatAssignment],
    seat_count: i32,
    tier: String,
    unit_price: i64,
    total: i64,
    recorded_at: Timestamp,
}

impl<'e> Allocation<'e> {
    fn of(event: &'e BusEvent) -> Option<Self> {
        let DomainEvent::Reservation(id, ReservationEvent::SeatsAllocated { seats, tier, unit_price, total, .. }) =
            &event.event
        else {
            return None;
        };
        Some(Self {
            reservation_id: id.as_uuid(),
            seats,
            seat_count: i32::try_from(seats.len()).unwrap_or(i32::MAX),
            tier: tier.as_str().to_owned(),
            unit_price: unit_price.cents_i64(),
            total: total.cents_i64(),
            recorded_at: event.recorded_at,
        })
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
        for a in events.iter().filter_map(|event| Allocation::of(event)) {
            columns.reservation_ids.push(a.reservation_id);
            columns.seat_counts.push(a.seat_count);
            columns.tiers.push(a.tier);
            columns.unit_prices.push(a.unit_price);
            columns.totals.push(a.total);
            columns.recorded_at.push(a.recorded_at);
        }
        columns
    }
}

/// What a read model that keeps no row per hold needs of a reservation when a later event (its
/// sale, a mail) calls for it: the hold's start and seats, read back from the event store.
///
/// In a flash sale most holds are never paid for, and each row a read model wrote per hold was
/// an insert in the sale's busiest moments (`pg_waldump`: about 260 bytes of WAL each for mail,
/// 380 for sales, 420 for analytics), and the sales and analytics rows an update too when the
/// seats came, unless their reader held the start back to join them. A point read of the stream
/// costs no WAL, and only for the holds that sell or get mail, when they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub event_id: Uuid,
    pub customer_id: Uuid,
    pub section: String,
    /// When the buyer asked.
    pub reserved_at: Timestamp,
    /// From its `SeatsAllocated`, if that was among the events read.
    pub seats: Option<HeldSeats>,
}

/// A hold's seats as the read models count them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSeats {
    pub count: i32,
    pub tier: String,
    pub unit_price_cents: i64,
}

/// The stored types of a hold's start and seats (`Stored::event_type` of `Reservation`).
const HOLD_EVENT_TYPES: [&str; 2] = ["ReservationInitiated", "ReservationSeatsAllocated"];

impl Hold {
    /// The hold of reservation stream `stream` as its events up to version `through` tell it
    /// (`None`: the stream has no start among them). Earlier versions of a stream are
    /// committed before later ones, so a read model applying version `through + 1` finds them,
    /// whatever the bus's order across streams.
    ///
    /// # Errors
    /// The events database, or an event that does not decode (as a database error, which the
    /// read model's batch retries).
    pub async fn read(store: &EventStore, stream: &str, through: i64) -> Result<Option<Self>, sqlx::Error> {
        let as_sqlx = |e: StoreError| match e {
            StoreError::Database(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        };
        let mut hold: Option<Self> = None;
        // Only the two kinds it needs: an event of a kind this release does not know how to
        // decode (a newer release's, during a rolling deploy) must not stop a read model.
        for recorded in store.read_stream_of_types(stream, through, &HOLD_EVENT_TYPES).await.map_err(as_sqlx)? {
            match recorded.decode::<Reservation>().map_err(|e| as_sqlx(e.into()))? {
                ReservationEvent::Initiated { event_id, customer_id, section, at, .. } => {
                    hold = Some(Self {
                        event_id: event_id.as_uuid(),
                        customer_id: customer_id.as_uuid(),
                        section: section.as_str().to_owned(),
                        reserved_at: at,
                        seats: None,
                    });
                }
                ReservationEvent::SeatsAllocated { seats, tier, unit_price, .. } => {
                    if let Some(hold) = hold.as_mut() {
                        hold.seats = Some(HeldSeats {
                            count: i32::try_from(seats.len()).unwrap_or(i32::MAX),
                            tier: tier.as_str().to_owned(),
                            unit_price_cents: unit_price.cents_i64(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(hold)
    }
}
