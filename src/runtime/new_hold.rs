//! A new hold decided in one step, inside its inventory's batch.
//!
//! A reservation's saga begins with three decisions on two streams: the reservation initiates and
//! asks its inventory for seats, the inventory allocates them (or says why not), and the
//! reservation records the answer. Carried out one effect at a time that is three commits, and
//! two effects rows written only to be deleted moments later, while the buyer waits for all of
//! it. A new reservation's stream has no other writer yet, so its inventory's writer decides all
//! three in its batch, with the same reducers, and commits them with the hold's timer in one
//! transaction: the same events in the same streams, all or nothing.
//!
//! An effect the chain cannot carry out on the spot (an inventory that refuses outright, a price
//! that overflows) becomes an effects row, as any effect is, for the worker. A reservation id that
//! turns out to be taken (a retry under the same Idempotency-Key) makes the append conflict; the
//! writer then finds out which ids exist and answers those jobs as the reservation itself would:
//! it already exists.

use std::collections::VecDeque;

use uuid::Uuid;

use crate::domain::DomainError;
use crate::domain::ids::ReservationId;
use crate::domain::reducer::{Addressed, Aggregate, Command, Effect};
use crate::domain::reservation::{Reservation, ReservationCommand, ReservationEvent};
use crate::domain::values::Timestamp;

/// Decisions the chain takes at most after the first: the allocation and its answer need two. The
/// reducers never ask for more; if they did, the rest would wait in rows like any effect.
const MAX_STEPS: usize = 8;

/// A reservation to start inside another stream's batch.
#[derive(Debug)]
pub(crate) struct NewReservation {
    pub id: ReservationId,
    /// Its first command (`Initiate`), decided on the empty state.
    pub initiate: ReservationCommand,
    /// Found to exist already: answered as the reservation would answer `initiate`.
    pub exists: bool,
}

/// What the chain decided.
#[derive(Debug)]
pub(crate) struct Chain<A: Aggregate> {
    /// Events of the stream whose batch decided the chain (already applied to its state).
    pub host_events: Vec<A::Event>,
    /// The new reservation as its events leave it.
    pub reservation: Reservation,
    pub reservation_events: Vec<ReservationEvent>,
    /// Effects left for rows: the hold's timer, and anything not carried out in the chain.
    pub effects: Vec<Effect>,
}

/// Decides `new` and every effect it leads to that is addressed to `host` (the stream `host_id`
/// being written) or back to the new reservation, applying the host's events to `host` as it goes.
///
/// # Errors
/// The reservation's refusal of its first command; `host` is then untouched. Later refusals do
/// not fail the chain: their effects are left for rows.
pub(crate) fn decide<A: Addressed>(
    host: &mut A,
    host_id: Uuid,
    new: &NewReservation,
    now: Timestamp,
) -> Result<Chain<A>, DomainError> {
    let mut reservation = Reservation::default();
    let first = reservation.execute(&new.initiate, now)?;
    let mut chain = Chain {
        host_events: Vec::new(),
        reservation,
        reservation_events: first.events.into_vec(),
        effects: Vec::new(),
    };
    let mut queue: VecDeque<Effect> = first.effects.into_iter().collect();
    let mut steps = 0;
    while let Some(effect) = queue.pop_front() {
        let Effect::Send(command) = &effect else {
            chain.effects.push(effect);
            continue;
        };
        if steps == MAX_STEPS {
            chain.effects.push(effect);
            continue;
        }
        let decided = if let Some(command) = A::addressed(command, host_id) {
            host.execute(command, now).map(|decision| {
                chain.host_events.extend(decision.events);
                decision.effects
            })
        } else if let Some(command) = Reservation::addressed(command, new.id.as_uuid()) {
            chain.reservation.execute(command, now).map(|decision| {
                chain.reservation_events.extend(decision.events);
                decision.effects
            })
        } else {
            chain.effects.push(effect);
            continue;
        };
        steps += 1;
        match decided {
            Ok(effects) => queue.extend(effects),
            // Refused here, it is refused as a row too, and retried and parked as one.
            Err(_) => chain.effects.push(effect),
        }
    }
    // A reservation that ended in the chain (no seats for it) has no hold to time out.
    if chain.reservation.status().is_some_and(crate::domain::reservation::ReservationStatus::is_terminal) {
        chain
            .effects
            .retain(|e| !matches!(e, Effect::Schedule { command: Command::Reservation(id, _), .. } if *id == new.id));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::event::EventStatus;
    use crate::domain::ids::{CustomerId, EventId};
    use crate::domain::inventory::{Inventory, InventoryCommand, InventoryEvent};
    use crate::domain::money::Money;
    use crate::domain::reservation::{EventFacts, ReservationStatus};
    use crate::domain::seating::{SectionLayout, SectionSpec};
    use crate::domain::values::{Quantity, SectionName};

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap()
    }

    fn event_id() -> EventId {
        EventId::from_uuid(Uuid::from_u128(1))
    }

    fn floor(capacity: i64) -> SectionSpec {
        SectionSpec {
            name: SectionName::parse("Floor").unwrap(),
            layout: SectionLayout::parse("general", capacity, None, None).unwrap(),
            base_price: Money::from_cents(5_000),
        }
    }

    /// An inventory of one general section of `capacity` seats, with sales open.
    fn inventory_on_sale(capacity: i64) -> Inventory {
        let mut inventory = Inventory::default();
        let sections = vec![(floor(capacity).name, floor(capacity).layout)];
        inventory.execute(&InventoryCommand::Initialize { event_id: event_id(), sections }, now()).unwrap();
        inventory.execute(&InventoryCommand::OpenSales { seq: 1 }, now()).unwrap();
        inventory
    }

    fn new_reservation(n: u128, quantity: i64, status: EventStatus) -> NewReservation {
        let id = ReservationId::from_uuid(Uuid::from_u128(100 + n));
        let date = crate::domain::values::EventDate::recorded(now() + chrono::Duration::days(60));
        NewReservation {
            id,
            initiate: ReservationCommand::Initiate {
                reservation_id: id,
                event_id: event_id(),
                customer_id: CustomerId::from_uuid(Uuid::from_u128(200 + n)),
                section: floor(1).name,
                quantity: Quantity::new(quantity).unwrap(),
                seats: None,
                event: EventFacts { status, date, section: Some(floor(1)) },
                hold_seconds: 300,
                max_held_per_customer: 8,
            },
            exists: false,
        }
    }

    #[test]
    fn a_hold_with_seats_left_records_the_seats_on_both_streams_and_keeps_only_its_timer() {
        let mut inventory = inventory_on_sale(10);
        let new = new_reservation(1, 2, EventStatus::SalesOpen);

        let chain = decide(&mut inventory, event_id().as_uuid(), &new, now()).unwrap();

        assert!(matches!(chain.host_events[..], [InventoryEvent::SeatsReserved { .. }]), "{:?}", chain.host_events);
        assert!(matches!(
            chain.reservation_events[..],
            [ReservationEvent::Initiated { .. }, ReservationEvent::SeatsAllocated { .. }]
        ));
        let details = chain.reservation.details().unwrap();
        assert_eq!(details.status, ReservationStatus::SeatsReserved);
        assert_eq!(details.seats.len(), 2);
        assert_eq!(inventory.section("Floor").unwrap().reserved(), 2, "the host's events are applied");
        let expiry = Command::Reservation(new.id, ReservationCommand::Expire);
        assert_eq!(chain.effects, [Effect::Schedule { at: details.expires_at, command: expiry }]);
    }

    #[test]
    fn a_hold_with_too_few_seats_left_is_rejected_and_leaves_no_timer() {
        let mut inventory = inventory_on_sale(1);
        let new = new_reservation(1, 2, EventStatus::SalesOpen);

        let chain = decide(&mut inventory, event_id().as_uuid(), &new, now()).unwrap();

        assert!(chain.host_events.is_empty());
        assert!(matches!(
            chain.reservation_events[..],
            [ReservationEvent::Initiated { .. }, ReservationEvent::AllocationRejected { .. }]
        ));
        assert_eq!(chain.reservation.status(), Some(ReservationStatus::Rejected));
        assert!(chain.effects.is_empty(), "{:?}", chain.effects);
    }

    #[test]
    fn a_reservation_that_refuses_to_start_leaves_the_host_untouched() {
        let mut inventory = inventory_on_sale(10);
        let before = inventory.clone();
        let new = new_reservation(1, 2, EventStatus::Published);

        let refusal = decide(&mut inventory, event_id().as_uuid(), &new, now()).unwrap_err();

        assert_eq!(refusal, DomainError::SalesNotOpen);
        assert_eq!(inventory, before);
    }

    #[test]
    fn a_seat_request_the_inventory_refuses_outright_is_left_in_a_row_for_the_worker() {
        // An inventory not initialised (yet): it refuses every seat request.
        let mut inventory = Inventory::default();
        let new = new_reservation(1, 2, EventStatus::SalesOpen);

        let chain = decide(&mut inventory, event_id().as_uuid(), &new, now()).unwrap();

        assert_eq!(chain.reservation.status(), Some(ReservationStatus::Initiated));
        assert!(
            matches!(
                chain.effects[..],
                [Effect::Send(Command::Inventory(_, InventoryCommand::Reserve { .. })), Effect::Schedule { .. }]
            ),
            "{:?}",
            chain.effects
        );
    }

    #[test]
    fn effects_for_another_stream_are_left_in_rows() {
        let mut inventory = inventory_on_sale(10);
        let new = new_reservation(1, 2, EventStatus::SalesOpen);

        // The batch is another event's inventory: the seat request is not for it.
        let elsewhere = Uuid::from_u128(99);
        let chain = decide(&mut inventory, elsewhere, &new, now()).unwrap();

        assert!(chain.host_events.is_empty());
        assert_eq!(chain.reservation.status(), Some(ReservationStatus::Initiated));
        assert_eq!(chain.effects.len(), 2);
        assert_eq!(inventory.section("Floor").unwrap().reserved(), 0);
    }
}
