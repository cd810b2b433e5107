use super::*;
use crate::domain::testing::*;

fn open() -> Vec<InventoryEvent> {
    vec![inventory_initialized(), InventoryEvent::SalesOpened { seq: 2 }]
}

fn with(mut history: Vec<InventoryEvent>, more: &[InventoryEvent]) -> Vec<InventoryEvent> {
    history.extend_from_slice(more);
    history
}

/// The buyer of reservation `n` (each reservation its own buyer unless a test says otherwise).
fn buyer(n: u128) -> CustomerId {
    CustomerId::from_uuid(uuid::Uuid::from_u128(0xB000 + n))
}

fn reserve(n: u128, section: SectionName, quantity: i64, seats: Option<&[&str]>) -> InventoryCommand {
    reserve_for(buyer(n), n, section, quantity, seats)
}

fn reserve_for(
    customer: CustomerId,
    n: u128,
    section: SectionName,
    quantity: i64,
    seats: Option<&[&str]>,
) -> InventoryCommand {
    InventoryCommand::Reserve {
        reservation_id: reservation(n),
        customer_id: customer,
        max_held: 8,
        section,
        quantity: Quantity::new(quantity).unwrap(),
        seats: seats.map(|s| s.iter().map(|l| l.parse().unwrap()).collect()),
    }
}

fn reserved(n: u128, section: SectionName, positions: &[u32]) -> InventoryEvent {
    reserved_for(buyer(n), n, section, positions)
}

fn reserved_for(customer: CustomerId, n: u128, section: SectionName, positions: &[u32]) -> InventoryEvent {
    InventoryEvent::SeatsReserved {
        reservation_id: reservation(n),
        section,
        positions: positions.to_vec(),
        customer_id: Some(customer),
    }
}

fn allocated(n: u128, section: &SectionName, positions: &[u32]) -> Effect {
    send(Command::Reservation(
        reservation(n),
        ReservationCommand::SeatsAllocated { seats: assignments(section, positions) },
    ))
}

fn refused(n: u128, failure: AllocationFailure) -> Effect {
    send(Command::Reservation(reservation(n), ReservationCommand::AllocationFailed { failure }))
}

/// Replays and checks the invariants after every event.
fn checked(history: &[InventoryEvent]) -> Inventory {
    let mut state = Inventory::default();
    for event in history {
        state.apply(event);
        state.check_invariants().unwrap_or_else(|e| panic!("after {event:?}: {e}"));
    }
    state
}

#[test]
fn initialize_creates_every_seat_available_and_is_idempotent() {
    let state = checked(&[inventory_initialized()]);
    let floor_inventory = state.section("Floor").unwrap();
    assert_eq!((floor_inventory.capacity(), floor_inventory.available()), (10, 10));
    assert_eq!(state.sales(), SalesState::Closed);
    given::<Inventory>(&[inventory_initialized()])
        .when(&InventoryCommand::Initialize { event_id: event_id(), sections: vec![] }, now())
        .then_nothing();
}

#[test]
fn commands_before_initialisation_find_no_event() {
    given::<Inventory>(&[])
        .when(&InventoryCommand::OpenSales { seq: 1 }, now())
        .then_error(&DomainError::EventNotFound);
}

#[test]
fn sales_open_close_and_cancel() {
    given::<Inventory>(&[inventory_initialized()])
        .when(&InventoryCommand::OpenSales { seq: 2 }, now())
        .then_events(&[InventoryEvent::SalesOpened { seq: 2 }]);
    given::<Inventory>(&open())
        .when(&InventoryCommand::CloseSales { seq: 3 }, now())
        .then_events(&[InventoryEvent::SalesClosed { seq: 3 }]);
    let cancelled = with(open(), &[InventoryEvent::EventCancelled]);
    given::<Inventory>(&cancelled).when(&InventoryCommand::OpenSales { seq: 9 }, now()).then_nothing();
    given::<Inventory>(&cancelled).when(&InventoryCommand::CancelEvent, now()).then_nothing();
    given::<Inventory>(&cancelled).when(&InventoryCommand::CloseSales { seq: 9 }, now()).then_nothing();
}

#[test]
fn stale_or_repeated_sales_messages_change_nothing() {
    given::<Inventory>(&open()).when(&InventoryCommand::OpenSales { seq: 2 }, now()).then_nothing();
    // Open(2), Close(3), Open(4) delivered as Open(2), Open(4), Close(3): sales stay open.
    let reopened = with(open(), &[InventoryEvent::SalesOpened { seq: 4 }]);
    given::<Inventory>(&reopened).when(&InventoryCommand::CloseSales { seq: 3 }, now()).then_nothing();
    let state = Inventory::replay(&reopened);
    assert_eq!(state.sales(), SalesState::Open);
}

#[test]
fn general_admission_takes_the_lowest_free_positions() {
    let history = with(open(), &[reserved(1, floor(), &[0, 1]), reserved(2, floor(), &[2])]);
    let history = with(history, &[InventoryEvent::SeatsReleased { reservation_id: reservation(1) }]);
    let then = given::<Inventory>(&history).when(&reserve(3, floor(), 3, None), now());
    then.then_events(&[reserved(3, floor(), &[0, 1, 3])]).then_effects(&[allocated(3, &floor(), &[0, 1, 3])]);
    let state = then.state_after();
    state.check_invariants().unwrap();
    let s = state.section("Floor").unwrap();
    assert_eq!((s.available(), s.reserved(), s.sold()), (6, 4, 0));
}

#[test]
fn general_admission_refuses_more_than_is_left_and_holds_nothing() {
    let history = with(open(), &[reserved(1, floor(), &[0, 1, 2, 3, 4, 5, 6, 7])]);
    given::<Inventory>(&history).when(&reserve(2, floor(), 3, None), now()).then_events(&[]).then_effects(&[refused(
        2,
        AllocationFailure::InsufficientInventory { section: "Floor".into(), requested: 3, available: 2 },
    )]);
}

#[test]
fn numbered_sections_hold_exactly_the_requested_seats() {
    let then = given::<Inventory>(&open()).when(&reserve(1, balcony(), 2, Some(&["B-2", "a-1"])), now());
    then.then_events(&[reserved(1, balcony(), &[5, 0])]).then_effects(&[allocated(1, &balcony(), &[5, 0])]);
    let state = then.state_after();
    assert_eq!(state.section("Balcony").unwrap().seat(5), Some(SeatState::Reserved(reservation(1))));
    let labels: Vec<_> = state.assignments(&balcony(), &[5, 0]).iter().map(|a| a.label.unwrap().to_string()).collect();
    assert_eq!(labels, ["B-2", "A-1"]);
}

#[test]
fn numbered_sections_without_choice_get_the_first_free_seats() {
    given::<Inventory>(&with(open(), &[reserved(1, balcony(), &[0])]))
        .when(&reserve(2, balcony(), 2, None), now())
        .then_events(&[reserved(2, balcony(), &[1, 2])]);
}

#[test]
fn taken_or_missing_seats_are_all_listed_and_nothing_is_held() {
    let history = with(open(), &[reserved(1, balcony(), &[0, 1])]);
    given::<Inventory>(&history)
        .when(&reserve(2, balcony(), 3, Some(&["A-1", "A-3", "D-1"])), now())
        .then_events(&[])
        .then_effects(&[refused(2, AllocationFailure::SeatUnavailable { seats: vec!["A-1".into(), "D-1".into()] })]);
    let sold = with(history, &[InventoryEvent::SeatsSold { reservation_id: reservation(1) }]);
    given::<Inventory>(&sold)
        .when(&reserve(3, balcony(), 1, Some(&["A-2"])), now())
        .then_effects(&[refused(3, AllocationFailure::SeatUnavailable { seats: vec!["A-2".into()] })]);
}

#[test]
fn specific_seats_must_match_the_quantity_be_distinct_and_numbered() {
    for (command, reason) in [
        (reserve(1, balcony(), 2, Some(&["A-1"])), "the number of specific seats must equal the quantity"),
        (reserve(1, balcony(), 2, Some(&["A-1", "A-1"])), "seat A-1 is listed twice"),
        (reserve(1, floor(), 1, Some(&["A-1"])), "specific seats can only be chosen in numbered sections"),
    ] {
        given::<Inventory>(&open())
            .when(&command, now())
            .then_events(&[])
            .then_effects(&[refused(1, AllocationFailure::Invalid { reason: reason.into() })]);
    }
}

#[test]
fn reserve_is_refused_when_sales_are_not_open_or_the_section_is_unknown() {
    given::<Inventory>(&[inventory_initialized()])
        .when(&reserve(1, floor(), 1, None), now())
        .then_effects(&[refused(1, AllocationFailure::SalesNotOpen)]);
    given::<Inventory>(&with(open(), &[InventoryEvent::EventCancelled]))
        .when(&reserve(1, floor(), 1, None), now())
        .then_effects(&[refused(1, AllocationFailure::EventCancelled)]);
    given::<Inventory>(&open())
        .when(&reserve(1, SectionName::parse("Pit").unwrap(), 1, None), now())
        .then_effects(&[refused(1, AllocationFailure::SectionNotFound { section: "Pit".into() })]);
}

#[test]
fn a_repeated_reserve_answers_again_without_holding_more() {
    let history = with(open(), &[reserved(1, floor(), &[0, 1])]);
    given::<Inventory>(&history)
        .when(&reserve(1, floor(), 2, None), now())
        .then_events(&[])
        .then_effects(&[allocated(1, &floor(), &[0, 1])]);
}

#[test]
fn a_reserve_after_the_reservation_was_released_or_voided_gets_nothing() {
    let released =
        with(open(), &[reserved(1, floor(), &[0]), InventoryEvent::SeatsReleased { reservation_id: reservation(1) }]);
    given::<Inventory>(&released).when(&reserve(1, floor(), 1, None), now()).then_nothing();
    let voided = with(open(), &[InventoryEvent::ReservationVoided { reservation_id: reservation(2) }]);
    given::<Inventory>(&voided).when(&reserve(2, floor(), 1, None), now()).then_nothing();
}

#[test]
fn confirm_sells_only_that_reservations_seats() {
    let history = with(open(), &[reserved(1, floor(), &[0, 1]), reserved(2, floor(), &[2])]);
    let then = given::<Inventory>(&history).when(&InventoryCommand::Confirm { reservation_id: reservation(1) }, now());
    then.then_events(&[InventoryEvent::SeatsSold { reservation_id: reservation(1) }]).then_effects(&[]);
    let state = then.state_after();
    state.check_invariants().unwrap();
    let s = state.section("Floor").unwrap();
    assert_eq!((s.sold(), s.reserved(), s.available()), (2, 1, 7));
    assert_eq!(s.seat(2), Some(SeatState::Reserved(reservation(2))));
}

#[test]
fn confirm_is_idempotent_and_refused_for_released_or_unknown_holds() {
    let sold =
        with(open(), &[reserved(1, floor(), &[0]), InventoryEvent::SeatsSold { reservation_id: reservation(1) }]);
    given::<Inventory>(&sold).when(&InventoryCommand::Confirm { reservation_id: reservation(1) }, now()).then_nothing();
    let released =
        with(open(), &[reserved(1, floor(), &[0]), InventoryEvent::SeatsReleased { reservation_id: reservation(1) }]);
    given::<Inventory>(&released)
        .when(&InventoryCommand::Confirm { reservation_id: reservation(1) }, now())
        .then_error(&DomainError::InvalidStateTransition { from: "released", action: "confirm" });
    given::<Inventory>(&open())
        .when(&InventoryCommand::Confirm { reservation_id: reservation(9) }, now())
        .then_error(&DomainError::ReservationNotFound);
}

#[test]
fn release_frees_held_seats_and_is_idempotent() {
    let history = with(open(), &[reserved(1, balcony(), &[3, 4])]);
    let then = given::<Inventory>(&history).when(&InventoryCommand::Release { reservation_id: reservation(1) }, now());
    then.then_events(&[InventoryEvent::SeatsReleased { reservation_id: reservation(1) }]);
    let state = then.state_after();
    assert_eq!(state.section("Balcony").unwrap().available(), 12);
    let released = with(history, &[InventoryEvent::SeatsReleased { reservation_id: reservation(1) }]);
    given::<Inventory>(&released)
        .when(&InventoryCommand::Release { reservation_id: reservation(1) }, now())
        .then_nothing();
}

#[test]
fn release_before_any_seats_were_held_leaves_a_tombstone() {
    given::<Inventory>(&open())
        .when(&InventoryCommand::Release { reservation_id: reservation(7) }, now())
        .then_events(&[InventoryEvent::ReservationVoided { reservation_id: reservation(7) }]);
}

#[test]
fn release_of_sold_seats_is_refused() {
    let sold =
        with(open(), &[reserved(1, floor(), &[0]), InventoryEvent::SeatsSold { reservation_id: reservation(1) }]);
    given::<Inventory>(&sold)
        .when(&InventoryCommand::Release { reservation_id: reservation(1) }, now())
        .then_error(&DomainError::InvalidStateTransition { from: "sold", action: "release" });
}

#[test]
fn return_sold_puts_seats_back_on_sale_once() {
    let sold =
        with(open(), &[reserved(1, floor(), &[0]), InventoryEvent::SeatsSold { reservation_id: reservation(1) }]);
    let then = given::<Inventory>(&sold).when(&InventoryCommand::ReturnSold { reservation_id: reservation(1) }, now());
    then.then_events(&[InventoryEvent::SoldSeatsReturned { reservation_id: reservation(1) }]);
    assert_eq!(then.state_after().section("Floor").unwrap().available(), 10);
    let returned = with(sold, &[InventoryEvent::SoldSeatsReturned { reservation_id: reservation(1) }]);
    given::<Inventory>(&returned)
        .when(&InventoryCommand::ReturnSold { reservation_id: reservation(1) }, now())
        .then_nothing();
    // The refund may overtake the sale's confirmation: the seats still go back, and the late
    // confirmation changes nothing.
    let held = with(open(), &[reserved(2, floor(), &[0])]);
    let then = given::<Inventory>(&held).when(&InventoryCommand::ReturnSold { reservation_id: reservation(2) }, now());
    then.then_events(&[InventoryEvent::SoldSeatsReturned { reservation_id: reservation(2) }]);
    assert_eq!(then.state_after().section("Floor").unwrap().available(), 10);
    let returned = with(held, &[InventoryEvent::SoldSeatsReturned { reservation_id: reservation(2) }]);
    given::<Inventory>(&returned)
        .when(&InventoryCommand::Confirm { reservation_id: reservation(2) }, now())
        .then_nothing();
    let released =
        with(open(), &[reserved(4, floor(), &[0]), InventoryEvent::SeatsReleased { reservation_id: reservation(4) }]);
    given::<Inventory>(&released)
        .when(&InventoryCommand::ReturnSold { reservation_id: reservation(4) }, now())
        .then_error(&DomainError::InvalidStateTransition { from: "released", action: "return" });
    given::<Inventory>(&open())
        .when(&InventoryCommand::ReturnSold { reservation_id: reservation(3) }, now())
        .then_error(&DomainError::ReservationNotFound);
}

#[test]
fn cancelling_the_event_tells_every_reservation_that_holds_or_bought_seats() {
    let history = with(
        open(),
        &[
            reserved(1, floor(), &[0]),
            reserved(2, floor(), &[1]),
            InventoryEvent::SeatsSold { reservation_id: reservation(2) },
            reserved(3, floor(), &[2]),
            InventoryEvent::SeatsReleased { reservation_id: reservation(3) },
        ],
    );
    given::<Inventory>(&history)
        .when(&InventoryCommand::CancelEvent, now())
        .then_events(&[InventoryEvent::EventCancelled])
        .then_effects(&[
            send(Command::Reservation(reservation(1), ReservationCommand::EventCancelled)),
            send(Command::Reservation(reservation(2), ReservationCommand::EventCancelled)),
        ]);
}

#[test]
fn every_seat_has_a_stable_distinct_id() {
    let a = assignments(&balcony(), &[0, 1]);
    let b = assignments(&balcony(), &[0, 1]);
    assert_eq!(a, b);
    assert_ne!(a[0].seat_id, a[1].seat_id);
    assert_ne!(assignments(&floor(), &[0])[0].seat_id, a[0].seat_id);
}

#[test]
fn invariant_check_catches_a_corrupted_state() {
    let mut state = checked(&with(open(), &[reserved(1, floor(), &[0])]));
    state.holds.get_mut(&reservation(1)).unwrap().positions = vec![1];
    assert!(state.check_invariants().is_err());
}

#[test]
fn allocation_failures_map_to_api_errors() {
    let cases = [
        (
            AllocationFailure::InsufficientInventory { section: "A".into(), requested: 2, available: 1 },
            "INSUFFICIENT_INVENTORY",
        ),
        (AllocationFailure::SeatUnavailable { seats: vec!["A-1".into()] }, "SEAT_UNAVAILABLE"),
        (AllocationFailure::SalesNotOpen, "SALES_NOT_OPEN"),
        (AllocationFailure::EventCancelled, "EVENT_CANCELLED"),
        (AllocationFailure::SectionNotFound { section: "X".into() }, "SECTION_NOT_FOUND"),
        (AllocationFailure::Invalid { reason: "r".into() }, "VALIDATION_FAILED"),
    ];
    for (failure, code) in cases {
        assert_eq!(failure.to_error().code(), code);
    }
}

// ---- one customer cannot hold a whole sale ----

#[test]
fn a_customer_holds_at_most_max_held_seats_of_an_event_at_once() {
    let history = with(open(), &[reserved_for(alice(), 1, floor(), &[0, 1, 2, 3, 4])]);
    // 5 held + 3 = 8: allowed.
    given::<Inventory>(&history).when(&reserve_for(alice(), 2, floor(), 3, None), now()).then_events(&[reserved_for(
        alice(),
        2,
        floor(),
        &[5, 6, 7],
    )]);
    // 5 held + 4 = 9: refused, with what they hold and the limit.
    given::<Inventory>(&history)
        .when(&reserve_for(alice(), 2, floor(), 4, None), now())
        .then_events(&[])
        .then_effects(&[refused(2, AllocationFailure::HoldLimit { limit: 8, held: 5 })]);
    // Someone else is not affected.
    given::<Inventory>(&history).when(&reserve_for(bob(), 2, floor(), 4, None), now()).then_events(&[reserved_for(
        bob(),
        2,
        floor(),
        &[5, 6, 7, 8],
    )]);
}

#[test]
fn paid_released_and_returned_seats_no_longer_count_against_the_limit() {
    let full = with(
        open(),
        &[reserved_for(alice(), 1, floor(), &[0, 1, 2, 3]), reserved_for(alice(), 2, floor(), &[4, 5, 6, 7])],
    );
    assert_eq!(checked(&full).held_by(alice()), 8);
    given::<Inventory>(&full)
        .when(&reserve_for(alice(), 3, floor(), 1, None), now())
        .then_effects(&[refused(3, AllocationFailure::HoldLimit { limit: 8, held: 8 })]);
    for freed in [
        InventoryEvent::SeatsSold { reservation_id: reservation(1) },
        InventoryEvent::SeatsReleased { reservation_id: reservation(1) },
    ] {
        let history = with(full.clone(), &[freed]);
        assert_eq!(checked(&history).held_by(alice()), 4);
        let then = given::<Inventory>(&history).when(&reserve_for(alice(), 3, floor(), 2, None), now());
        assert!(
            matches!(then.decision().events.as_slice(), [InventoryEvent::SeatsReserved { .. }]),
            "{:?}",
            then.decision()
        );
    }
    // A sold hold that is returned (refunded) was not counted any more: nothing goes negative.
    let returned = with(
        full,
        &[
            InventoryEvent::SeatsSold { reservation_id: reservation(1) },
            InventoryEvent::SoldSeatsReturned { reservation_id: reservation(1) },
        ],
    );
    assert_eq!(checked(&returned).held_by(alice()), 4);
}

// ---- a draft's sections redefined ----

#[test]
fn sections_are_redefined_only_while_nothing_was_ever_on_sale() {
    let new_floor = vec![(floor(), SectionLayout::parse("general", 3, None, None).unwrap())];
    let then = given::<Inventory>(&[inventory_initialized()])
        .when(&InventoryCommand::Redefine { sections: new_floor.clone() }, now());
    then.then_events(&[InventoryEvent::Redefined { sections: new_floor.clone() }]);
    let state = then.state_after();
    assert_eq!(state.sections().count(), 1);
    assert_eq!(state.section("Floor").unwrap().capacity(), 3);
    // Once sales opened, never (seats may be held or sold).
    given::<Inventory>(&open())
        .when(&InventoryCommand::Redefine { sections: new_floor }, now())
        .then_error_code("INVALID_STATE_TRANSITION");
}
