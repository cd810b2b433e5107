//! Typed identifiers: one generic [`Id`] with a marker type per kind, so an `EventId` can never be
//! passed where a `ReservationId` is expected, without six hand-written copies.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Names the kind of an [`Id`] in messages and stream ids.
pub trait IdKind {
    /// Lower-case prefix, e.g. `reservation` (streams are `reservation-{uuid}`).
    const PREFIX: &'static str;
}

/// A UUID tagged with the kind of thing it identifies.
///
/// The domain never makes random ids: new ids arrive in commands (chosen by the caller) or are
/// derived with [`Id::derive`], so replaying the same commands gives the same events.
pub struct Id<K: IdKind> {
    uuid: Uuid,
    kind: PhantomData<fn() -> K>,
}

impl<K: IdKind> Id<K> {
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self { uuid, kind: PhantomData }
    }

    /// A deterministic id from a parent id and a name (UUID v5). The same inputs always give the
    /// same id, which keeps reducers pure and duplicate deliveries harmless.
    pub fn derive<P: IdKind>(parent: Id<P>, name: &str) -> Self {
        Self::from_uuid(Uuid::new_v5(&parent.uuid, name.as_bytes()))
    }

    pub const fn as_uuid(&self) -> Uuid {
        self.uuid
    }
}

impl<K: IdKind> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: IdKind> Copy for Id<K> {}
impl<K: IdKind> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}
impl<K: IdKind> Eq for Id<K> {}
impl<K: IdKind> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: IdKind> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.uuid.cmp(&other.uuid)
    }
}
impl<K: IdKind> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}
impl<K: IdKind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", K::PREFIX, self.uuid)
    }
}
impl<K: IdKind> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.uuid, f)
    }
}
impl<K: IdKind> FromStr for Id<K> {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self::from_uuid)
    }
}
impl<K: IdKind> From<Uuid> for Id<K> {
    fn from(uuid: Uuid) -> Self {
        Self::from_uuid(uuid)
    }
}
impl<K: IdKind> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.uuid.serialize(serializer)
    }
}
impl<'de, K: IdKind> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Uuid::deserialize(deserializer).map(Self::from_uuid)
    }
}

macro_rules! id_kinds {
    ($($(#[$doc:meta])* $alias:ident => $marker:ident, $prefix:literal;)*) => {$(
        #[doc = concat!("Marker for [`", stringify!($alias), "`].")]
        #[derive(Debug)]
        pub enum $marker {}
        impl IdKind for $marker {
            const PREFIX: &'static str = $prefix;
        }
        $(#[$doc])*
        pub type $alias = Id<$marker>;
    )*};
}

id_kinds! {
    /// An event (concert, match, conference) and its inventory.
    EventId => EventKind, "event";
    /// One purchase attempt: the reservation saga.
    ReservationId => ReservationKind, "reservation";
    /// One charge at the payment gateway.
    PaymentId => PaymentKind, "payment";
    /// One refund of a payment; derived from its cause so a redelivered refund is recognised.
    RefundId => RefundKind, "refund";
    /// One ticket, one seat.
    TicketId => TicketKind, "ticket";
    /// A user of the platform (buyer or admin).
    CustomerId => CustomerKind, "customer";
    /// One seat of one section of one event (stable: derived from event, section and position).
    SeatId => SeatKind, "seat";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_deterministic_and_distinct_per_name() {
        let reservation = ReservationId::from_uuid(Uuid::from_u128(7));
        let a: TicketId = Id::derive(reservation, "seat-0");
        let b: TicketId = Id::derive(reservation, "seat-0");
        let c: TicketId = Id::derive(reservation, "seat-1");
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ids_parse_display_and_debug_with_their_kind() {
        let id: EventId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
        assert_eq!(id.to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        assert_eq!(format!("{id:?}"), "event-67e55044-10b1-426f-9247-bb680e5fe0c8");
        assert!("not-a-uuid".parse::<EventId>().is_err());
    }

    #[test]
    fn ids_serialize_as_plain_uuids() {
        let id = PaymentId::from_uuid(Uuid::from_u128(0x1234_5678));
        let json = serde_json_like(&id);
        assert_eq!(json, id.as_uuid().to_string());
    }

    fn serde_json_like(id: &PaymentId) -> String {
        // Serialize through bincode and back to prove the round trip, then show the uuid.
        let bytes = bincode::serde::encode_to_vec(id, bincode::config::standard()).unwrap();
        let (back, _): (PaymentId, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        back.to_string()
    }
}
