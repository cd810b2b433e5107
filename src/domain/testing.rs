//! Given/when/then for reducers, and the fixtures the domain tests share.

use chrono::Duration;

use super::DomainError;
use super::event::{EventChanged, NewEvent};
use super::ids::{CustomerId, EventId, ReservationId};
use super::inventory::{InventoryEvent, SeatAssignment};
use super::money::Money;
use super::reducer::{Aggregate, Command, Decision, Effect};
use super::seating::{SectionLayout, SectionSpec};
use super::values::{Category, EventDate, EventName, SectionName, Timestamp, Venue};

/// A fixed "now" for every test: 2027-01-15T12:00:00Z.
pub fn now() -> Timestamp {
    Timestamp::from_timestamp(1_800_000_000, 0).unwrap()
}

pub fn days(n: i64) -> Duration {
    Duration::days(n)
}

pub struct Given<A: Aggregate> {
    state: A,
}

/// The aggregate after `history`.
pub fn given<A: Aggregate>(history: &[A::Event]) -> Given<A> {
    Given { state: A::replay(history) }
}

impl<A: Aggregate> Given<A> {
    pub fn when(self, command: &A::Command, at: Timestamp) -> Then<A> {
        let result = self.state.decide(command, at);
        Then { state: self.state, result }
    }
}

pub struct Then<A: Aggregate> {
    state: A,
    result: Result<Decision<A::Event>, DomainError>,
}

impl<A: Aggregate> Then<A>
where
    A::Event: PartialEq,
{
    #[track_caller]
    pub fn decision(&self) -> &Decision<A::Event> {
        match &self.result {
            Ok(d) => d,
            Err(e) => panic!("expected a decision, got {e:?}"),
        }
    }

    #[track_caller]
    pub fn then_events(&self, expected: &[A::Event]) -> &Self {
        assert_eq!(self.decision().events.as_slice(), expected);
        self
    }

    #[track_caller]
    pub fn then_effects(&self, expected: &[Effect]) -> &Self {
        assert_eq!(self.decision().effects.as_slice(), expected);
        self
    }

    /// Neither events nor effects: how duplicates and late messages must be answered.
    #[track_caller]
    pub fn then_nothing(&self) -> &Self {
        let d = self.decision();
        assert!(d.is_empty(), "expected nothing, got {d:?}");
        self
    }

    #[track_caller]
    pub fn then_error(&self, expected: &DomainError) {
        match &self.result {
            Err(e) => assert_eq!(e, expected),
            Ok(d) => panic!("expected {expected:?}, got {d:?}"),
        }
    }

    #[track_caller]
    pub fn then_error_code(&self, code: &str) {
        match &self.result {
            Err(e) => assert_eq!(e.code(), code, "{e:?}"),
            Ok(d) => panic!("expected {code}, got {d:?}"),
        }
    }

    /// The state after applying the decided events.
    #[track_caller]
    pub fn state_after(&self) -> A {
        let mut state = self.state.clone();
        for event in &self.decision().events {
            state.apply(event);
        }
        state
    }
}

pub fn event_id() -> EventId {
    EventId::from_uuid(uuid::Uuid::from_u128(0xE))
}
pub fn alice() -> CustomerId {
    CustomerId::from_uuid(uuid::Uuid::from_u128(0xA11CE))
}
pub fn bob() -> CustomerId {
    CustomerId::from_uuid(uuid::Uuid::from_u128(0xB0B))
}
pub fn reservation(n: u128) -> ReservationId {
    ReservationId::from_uuid(uuid::Uuid::from_u128(0x5E_0000 + n))
}

pub fn floor() -> SectionName {
    SectionName::parse("Floor").unwrap()
}
pub fn balcony() -> SectionName {
    SectionName::parse("Balcony").unwrap()
}

/// General admission: 10 places at 50.00.
pub fn floor_spec() -> SectionSpec {
    SectionSpec {
        name: floor(),
        layout: SectionLayout::parse("general", 10, None, None).unwrap(),
        base_price: Money::from_cents(5_000),
    }
}

/// Numbered: rows A–C × 4 seats at 80.00.
pub fn balcony_spec() -> SectionSpec {
    SectionSpec {
        name: balcony(),
        layout: SectionLayout::parse("numbered", 12, Some(3), Some(4)).unwrap(),
        base_price: Money::from_cents(8_000),
    }
}

/// An event 60 days after [`now`] with both sections.
pub fn new_event(starts_in: Duration) -> NewEvent {
    NewEvent {
        name: EventName::parse("Rock Night").unwrap(),
        date: now() + starts_in,
        category: Category::Concert,
        venue: Venue::parse("Arena", Some("Utrecht"), Some("NL")).unwrap(),
        sections: vec![floor_spec(), balcony_spec()],
    }
}

pub fn event_created(starts_in: Duration) -> EventChanged {
    let e = new_event(starts_in);
    EventChanged::Created {
        event_id: event_id(),
        name: e.name,
        date: EventDate::recorded(e.date),
        category: e.category,
        venue: e.venue,
        sections: e.sections,
        at: now(),
    }
}

pub fn inventory_initialized() -> InventoryEvent {
    InventoryEvent::Initialized {
        event_id: event_id(),
        sections: vec![(floor(), floor_spec().layout), (balcony(), balcony_spec().layout)],
    }
}

/// The inventory's view of `positions` in `section` (ids and labels).
pub fn assignments(section: &SectionName, positions: &[u32]) -> Vec<SeatAssignment> {
    let inventory = super::inventory::Inventory::replay(&[inventory_initialized()]);
    inventory.assignments(section, positions)
}

pub fn send(command: Command) -> Effect {
    Effect::Send(command)
}
