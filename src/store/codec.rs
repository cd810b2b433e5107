//! How events and snapshots become bytes, and how old bytes become current events.
//!
//! A payload is the bincode encoding of the aggregate's event enum. Two columns travel with it:
//! `event_type` (the variant's name) and `event_version` (its shape). Decoding checks that the
//! decoded variant is the one the row names, so a reordered enum can never be misread silently.
//! Rules for changing an event: never reorder or remove variants (append new ones); when a
//! variant's fields change, bump its version and add an upcaster for the old version here.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::event::{Event, EventChanged};
use crate::domain::inventory::{Inventory, InventoryEvent};
use crate::domain::payment::{Payment, PaymentEvent};
use crate::domain::reducer::Aggregate;
use crate::domain::reservation::{Reservation, ReservationEvent};

/// The lookup kind that finds a ticket's reservation stream.
pub const TICKET_LOOKUP: &str = "ticket";

/// A stored payload that could not be turned into an event or a state.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("cannot encode: {0}")]
    Encode(String),
    #[error("{event_type} v{version}: {reason}")]
    Decode { event_type: String, version: i16, reason: String },
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes any serde value as the store does.
///
/// # Errors
/// When serde refuses the value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes bytes written by [`encode`], refusing trailing garbage.
///
/// # Errors
/// Bytes that do not decode to `T`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config()).map_err(|e| e.to_string())?;
    if used == bytes.len() { Ok(value) } else { Err(format!("{} trailing bytes", bytes.len() - used)) }
}

/// An aggregate the store can persist: its stream prefix, its events' names and versions, and
/// the shape of its snapshots.
pub trait Stored: Aggregate + Serialize + DeserializeOwned {
    /// Stream ids are `{KIND}-{uuid}`.
    const KIND: &'static str;
    /// Bump when the state's shape changes: older snapshots are then ignored (and rebuilt).
    const SNAPSHOT_VERSION: i16;

    fn event_type(event: &Self::Event) -> &'static str;

    /// The current version of an event type's shape.
    fn event_version(_event_type: &str) -> i16 {
        1
    }

    /// Ids by which commands find this stream, recorded with the event that introduces them
    /// (kind, id): e.g. `("ticket", ticket_id)` for a reservation that issued tickets.
    fn lookups(_event: &Self::Event) -> Vec<(&'static str, uuid::Uuid)> {
        Vec::new()
    }

    /// Turns a stored payload of an older shape into a current event.
    ///
    /// # Errors
    /// When no upcaster exists for that type and version.
    fn upcast(event_type: &str, version: i16, _payload: &[u8]) -> Result<Self::Event, String> {
        Err(format!("no upcaster for {event_type} v{version}"))
    }

    /// # Errors
    /// When serde refuses the event.
    fn encode_event(event: &Self::Event) -> Result<Vec<u8>, CodecError> {
        encode(event)
    }

    /// # Errors
    /// Bytes that are not an event of the named type and version.
    fn decode_event(event_type: &str, version: i16, payload: &[u8]) -> Result<Self::Event, CodecError> {
        let error = |reason: String| CodecError::Decode { event_type: event_type.to_owned(), version, reason };
        let current = Self::event_version(event_type);
        let event = match version.cmp(&current) {
            std::cmp::Ordering::Equal => decode::<Self::Event>(payload).map_err(error)?,
            std::cmp::Ordering::Less => Self::upcast(event_type, version, payload).map_err(error)?,
            std::cmp::Ordering::Greater => {
                return Err(error(format!("written by a newer release (this one reads up to v{current})")));
            }
        };
        let decoded = Self::event_type(&event);
        if decoded != event_type {
            return Err(error(format!("payload decodes as {decoded}")));
        }
        Ok(event)
    }
}

impl Stored for Event {
    const KIND: &'static str = "event";
    const SNAPSHOT_VERSION: i16 = 1;

    fn event_type(event: &EventChanged) -> &'static str {
        match event {
            EventChanged::Created { .. } => "EventCreated",
            EventChanged::Published { .. } => "EventPublished",
            EventChanged::SalesOpened { .. } => "EventSalesOpened",
            EventChanged::SalesClosed { .. } => "EventSalesClosed",
            EventChanged::Cancelled { .. } => "EventCancelled",
            EventChanged::Completed { .. } => "EventCompleted",
            EventChanged::Revised { .. } => "EventRevised",
        }
    }
}

impl Stored for Inventory {
    const KIND: &'static str = "inventory";
    /// v2: holds know their customer (the per-customer hold limit).
    const SNAPSHOT_VERSION: i16 = 2;

    /// `SeatsReserved` v2 added `customer_id`.
    fn event_version(event_type: &str) -> i16 {
        if event_type == "SeatsReserved" { 2 } else { 1 }
    }

    fn upcast(event_type: &str, version: i16, payload: &[u8]) -> Result<InventoryEvent, String> {
        match (event_type, version) {
            ("SeatsReserved", 1) => upcast::seats_reserved_v1(payload),
            _ => Err(format!("no upcaster for {event_type} v{version}")),
        }
    }

    fn event_type(event: &InventoryEvent) -> &'static str {
        match event {
            InventoryEvent::Initialized { .. } => "InventoryInitialized",
            InventoryEvent::SalesOpened { .. } => "InventorySalesOpened",
            InventoryEvent::SalesClosed { .. } => "InventorySalesClosed",
            InventoryEvent::EventCancelled => "InventoryEventCancelled",
            InventoryEvent::SeatsReserved { .. } => "SeatsReserved",
            InventoryEvent::SeatsSold { .. } => "SeatsSold",
            InventoryEvent::SeatsReleased { .. } => "SeatsReleased",
            InventoryEvent::SoldSeatsReturned { .. } => "SoldSeatsReturned",
            InventoryEvent::ReservationVoided { .. } => "ReservationVoided",
            InventoryEvent::Redefined { .. } => "InventoryRedefined",
        }
    }
}

impl Stored for Reservation {
    const KIND: &'static str = "reservation";
    /// v2: check-ins.
    const SNAPSHOT_VERSION: i16 = 2;

    fn event_type(event: &ReservationEvent) -> &'static str {
        match event {
            ReservationEvent::Initiated { .. } => "ReservationInitiated",
            ReservationEvent::SeatsAllocated { .. } => "ReservationSeatsAllocated",
            ReservationEvent::AllocationRejected { .. } => "ReservationAllocationRejected",
            ReservationEvent::PaymentRequested { .. } => "ReservationPaymentRequested",
            ReservationEvent::Completed { .. } => "ReservationCompleted",
            ReservationEvent::PaymentFailed { .. } => "ReservationPaymentFailed",
            ReservationEvent::Expired { .. } => "ReservationExpired",
            ReservationEvent::Cancelled { .. } => "ReservationCancelled",
            ReservationEvent::Refunded { .. } => "ReservationRefunded",
            ReservationEvent::LatePaymentRefunded { .. } => "ReservationLatePaymentRefunded",
            ReservationEvent::RefundRecorded { .. } => "ReservationRefundRecorded",
            ReservationEvent::TicketTransferred { .. } => "TicketTransferred",
            ReservationEvent::TicketCheckedIn { .. } => "TicketCheckedIn",
        }
    }

    fn lookups(event: &ReservationEvent) -> Vec<(&'static str, uuid::Uuid)> {
        match event {
            ReservationEvent::Completed { tickets, .. } => {
                tickets.iter().map(|t| (TICKET_LOOKUP, t.ticket_id.as_uuid())).collect()
            }
            _ => Vec::new(),
        }
    }

    /// `ReservationInitiated` v2 added `requested_seats` (buyers choosing numbered seats).
    fn event_version(event_type: &str) -> i16 {
        if event_type == "ReservationInitiated" { 2 } else { 1 }
    }

    fn upcast(event_type: &str, version: i16, payload: &[u8]) -> Result<ReservationEvent, String> {
        match (event_type, version) {
            ("ReservationInitiated", 1) => upcast::reservation_initiated_v1(payload),
            _ => Err(format!("no upcaster for {event_type} v{version}")),
        }
    }
}

impl Stored for Payment {
    const KIND: &'static str = "payment";
    const SNAPSHOT_VERSION: i16 = 1;

    fn event_type(event: &PaymentEvent) -> &'static str {
        match event {
            PaymentEvent::Started { .. } => "PaymentStarted",
            PaymentEvent::Captured { .. } => "PaymentCaptured",
            PaymentEvent::Declined { .. } => "PaymentDeclined",
            PaymentEvent::Refunded { .. } => "PaymentRefunded",
        }
    }
}

/// Old shapes of events, kept only to read what was written in them.
pub mod upcast {
    use serde::{Deserialize, Serialize};

    use crate::domain::ids::{CustomerId, EventId, ReservationId};
    use crate::domain::inventory::InventoryEvent;
    use crate::domain::money::Money;
    use crate::domain::reservation::ReservationEvent;
    use crate::domain::values::{EventDate, Quantity, SectionName, Timestamp};

    /// `ReservationInitiated` v1: before buyers could choose specific seats.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ReservationInitiatedV1 {
        pub reservation_id: ReservationId,
        pub event_id: EventId,
        pub customer_id: CustomerId,
        pub section: SectionName,
        pub quantity: Quantity,
        pub event_date: EventDate,
        pub base_price: Money,
        pub at: Timestamp,
        pub expires_at: Timestamp,
    }

    /// The variant index of `Initiated` in `ReservationEvent` (bincode writes it first).
    pub const INITIATED_VARIANT: u32 = 0;

    /// `SeatsReserved` v1: before holds were counted per customer.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SeatsReservedV1 {
        pub reservation_id: ReservationId,
        pub section: SectionName,
        pub positions: Vec<u32>,
    }

    /// The variant index of `SeatsReserved` in `InventoryEvent`.
    pub const SEATS_RESERVED_VARIANT: u32 = 4;

    pub(super) fn seats_reserved_v1(payload: &[u8]) -> Result<InventoryEvent, String> {
        let (variant, v1): (u32, SeatsReservedV1) = super::decode(payload)?;
        if variant != SEATS_RESERVED_VARIANT {
            return Err(format!("variant {variant} is not SeatsReserved"));
        }
        Ok(InventoryEvent::SeatsReserved {
            reservation_id: v1.reservation_id,
            section: v1.section,
            positions: v1.positions,
            customer_id: None,
        })
    }

    pub(super) fn reservation_initiated_v1(payload: &[u8]) -> Result<ReservationEvent, String> {
        let (variant, v1): (u32, ReservationInitiatedV1) = super::decode(payload)?;
        if variant != INITIATED_VARIANT {
            return Err(format!("variant {variant} is not Initiated"));
        }
        Ok(ReservationEvent::Initiated {
            reservation_id: v1.reservation_id,
            event_id: v1.event_id,
            customer_id: v1.customer_id,
            section: v1.section,
            quantity: v1.quantity,
            requested_seats: None,
            event_date: v1.event_date,
            base_price: v1.base_price,
            at: v1.at,
            expires_at: v1.expires_at,
        })
    }
}
