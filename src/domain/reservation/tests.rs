use super::*;
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::payment::RefundAmount;
use crate::domain::testing::*;

const RID: u128 = 1;

fn rid() -> ReservationId {
    reservation(RID)
}
fn pid() -> PaymentId {
    PaymentId::from_uuid(uuid::Uuid::from_u128(0x9A1))
}
fn facts(status: EventStatus, starts_in: chrono::Duration, section: Option<SectionSpec>) -> EventFacts {
    EventFacts { status, date: EventDate::recorded(now() + starts_in), section }
}

fn initiate_with(
    section: &SectionSpec,
    quantity: i64,
    seats: Option<&[&str]>,
    event: EventFacts,
) -> ReservationCommand {
    ReservationCommand::Initiate {
        reservation_id: rid(),
        event_id: event_id(),
        customer_id: alice(),
        section: section.name.clone(),
        quantity: Quantity::new(quantity).unwrap(),
        seats: seats.map(|s| s.iter().map(|l| l.parse().unwrap()).collect()),
        event,
        hold_seconds: 300,
        max_held_per_customer: 8,
    }
}

fn initiate(starts_in: chrono::Duration) -> ReservationCommand {
    initiate_with(&floor_spec(), 2, None, facts(EventStatus::SalesOpen, starts_in, Some(floor_spec())))
}

fn initiated(starts_in: chrono::Duration) -> ReservationEvent {
    ReservationEvent::Initiated {
        reservation_id: rid(),
        event_id: event_id(),
        customer_id: alice(),
        section: floor(),
        quantity: Quantity::new(2).unwrap(),
        requested_seats: None,
        event_date: EventDate::recorded(now() + starts_in),
        base_price: Money::from_cents(5_000),
        at: now(),
        expires_at: now() + chrono::Duration::seconds(300),
    }
}

fn seats() -> Vec<SeatAssignment> {
    assignments(&floor(), &[0, 1])
}

/// Seats allocated 60 days out: early bird, 2 × 40.00.
fn allocated() -> ReservationEvent {
    ReservationEvent::SeatsAllocated {
        seats: seats(),
        tier: PriceTier::EarlyBird,
        unit_price: Money::from_cents(4_000),
        total: Money::from_cents(8_000),
        at: now(),
    }
}

fn requested() -> ReservationEvent {
    ReservationEvent::PaymentRequested { payment_id: pid(), amount: Money::from_cents(8_000), at: now() }
}

fn tickets() -> Vec<Ticket> {
    seats()
        .into_iter()
        .map(|seat| Ticket {
            ticket_id: Id::derive(rid(), &format!("ticket/{}", seat.position)),
            seat,
            owner: alice(),
            status: TicketStatus::Valid,
        })
        .collect()
}

fn completed() -> ReservationEvent {
    ReservationEvent::Completed { payment_id: pid(), captured: Money::from_cents(8_000), tickets: tickets(), at: now() }
}

/// A reservation for an event `starts_in` from now, moved to `status`.
fn history(status: ReservationStatus, starts_in: chrono::Duration) -> Vec<ReservationEvent> {
    use ReservationStatus as S;
    let at = now();
    let mut h = vec![initiated(starts_in)];
    let rest: Vec<ReservationEvent> = match status {
        S::Initiated => vec![],
        S::SeatsReserved => vec![allocated()],
        S::PaymentPending => vec![allocated(), requested()],
        S::Completed => vec![allocated(), requested(), completed()],
        S::Expired => vec![allocated(), ReservationEvent::Expired { at }],
        S::Cancelled => vec![allocated(), ReservationEvent::Cancelled { by: CancelledBy::Customer, at }],
        S::Compensated => {
            vec![
                allocated(),
                requested(),
                ReservationEvent::PaymentFailed { payment_id: pid(), reason: "card_declined".into(), at },
            ]
        }
        S::Refunded => vec![
            allocated(),
            requested(),
            completed(),
            ReservationEvent::Refunded {
                refund_id: Id::derive(rid(), "customer-cancel"),
                amount: Money::from_cents(8_000),
                share: RefundShare::Full,
                by: CancelledBy::Customer,
                at,
            },
        ],
        S::Rejected => vec![ReservationEvent::AllocationRejected { failure: AllocationFailure::SalesNotOpen, at }],
    };
    h.extend(rest);
    h
}

fn release() -> Effect {
    send(Command::Inventory(event_id(), InventoryCommand::Release { reservation_id: rid() }))
}

fn status_after(then: &Then<Reservation>) -> ReservationStatus {
    then.state_after().status().unwrap()
}

// ---- initiate ----

#[test]
fn initiate_asks_for_seats_and_schedules_the_expiry() {
    let then = given::<Reservation>(&[]).when(&initiate(days(60)), now());
    then.then_events(&[initiated(days(60))]).then_effects(&[
        send(Command::Inventory(
            event_id(),
            InventoryCommand::Reserve {
                reservation_id: rid(),
                customer_id: alice(),
                max_held: 8,
                section: floor(),
                quantity: Quantity::new(2).unwrap(),
                seats: None,
            },
        )),
        Effect::Schedule {
            at: now() + chrono::Duration::seconds(300),
            command: Command::Reservation(rid(), ReservationCommand::Expire),
        },
    ]);
    assert_eq!(status_after(&then), ReservationStatus::Initiated);
}

#[test]
fn initiate_requires_open_sales_and_a_live_event() {
    for (status, code) in [
        (EventStatus::Draft, "SALES_NOT_OPEN"),
        (EventStatus::Published, "SALES_NOT_OPEN"),
        (EventStatus::SalesClosed, "SALES_NOT_OPEN"),
        (EventStatus::Completed, "SALES_NOT_OPEN"),
        (EventStatus::Cancelled, "EVENT_CANCELLED"),
    ] {
        let command = initiate_with(&floor_spec(), 1, None, facts(status, days(60), Some(floor_spec())));
        given::<Reservation>(&[]).when(&command, now()).then_error_code(code);
    }
}

#[test]
fn initiate_requires_an_existing_section() {
    let command = initiate_with(&floor_spec(), 1, None, facts(EventStatus::SalesOpen, days(60), None));
    given::<Reservation>(&[])
        .when(&command, now())
        .then_error(&DomainError::SectionNotFound { section: "Floor".into() });
}

#[test]
fn initiate_checks_specific_seats_against_the_layout() {
    let open = || facts(EventStatus::SalesOpen, days(60), Some(balcony_spec()));
    let ok = initiate_with(&balcony_spec(), 2, Some(&["A-1", "C-4"]), open());
    given::<Reservation>(&[]).when(&ok, now()).decision();
    given::<Reservation>(&[])
        .when(&initiate_with(&balcony_spec(), 2, Some(&["A-1", "D-1"]), open()), now())
        .then_error(&DomainError::SeatUnavailable { seats: vec!["D-1".into()] });
    given::<Reservation>(&[])
        .when(&initiate_with(&balcony_spec(), 2, Some(&["A-1"]), open()), now())
        .then_error_code("VALIDATION_FAILED");
    given::<Reservation>(&[])
        .when(&initiate_with(&balcony_spec(), 2, Some(&["A-1", "A-1"]), open()), now())
        .then_error_code("VALIDATION_FAILED");
    let general = facts(EventStatus::SalesOpen, days(60), Some(floor_spec()));
    given::<Reservation>(&[])
        .when(&initiate_with(&floor_spec(), 1, Some(&["A-1"]), general), now())
        .then_error_code("VALIDATION_FAILED");
}

#[test]
fn initiate_checks_the_hold_length_and_refuses_a_second_time() {
    let mut command = initiate(days(60));
    if let ReservationCommand::Initiate { hold_seconds, .. } = &mut command {
        *hold_seconds = 0;
    }
    given::<Reservation>(&[]).when(&command, now()).then_error_code("VALIDATION_FAILED");
    given::<Reservation>(&history(ReservationStatus::Initiated, days(60)))
        .when(&initiate(days(60)), now())
        .then_error(&DomainError::AlreadyExists("reservation"));
}

#[test]
fn commands_for_an_unknown_reservation_find_nothing() {
    given::<Reservation>(&[]).when(&ReservationCommand::Cancel, now()).then_error(&DomainError::ReservationNotFound);
}

// ---- allocation and pricing ----

#[test]
fn seats_allocated_fix_the_price_by_tier() {
    for (starts_in, tier, unit) in [
        (days(60), PriceTier::EarlyBird, 4_000),
        (days(30), PriceTier::EarlyBird, 4_000),
        (days(20), PriceTier::Regular, 5_000),
        (days(7), PriceTier::Regular, 5_000),
        (days(6), PriceTier::LastMinute, 5_500),
    ] {
        let then = given::<Reservation>(&[initiated(starts_in)])
            .when(&ReservationCommand::SeatsAllocated { seats: seats() }, now());
        then.then_events(&[ReservationEvent::SeatsAllocated {
            seats: seats(),
            tier,
            unit_price: Money::from_cents(unit),
            total: Money::from_cents(unit * 2),
            at: now(),
        }])
        .then_effects(&[]);
        assert_eq!(status_after(&then), ReservationStatus::SeatsReserved);
    }
}

#[test]
fn a_repeated_allocation_changes_nothing() {
    for status in [ReservationStatus::SeatsReserved, ReservationStatus::PaymentPending, ReservationStatus::Completed] {
        given::<Reservation>(&history(status, days(60)))
            .when(&ReservationCommand::SeatsAllocated { seats: seats() }, now())
            .then_nothing();
    }
}

#[test]
fn seats_arriving_after_the_saga_ended_are_released_at_once() {
    for status in [ReservationStatus::Expired, ReservationStatus::Cancelled, ReservationStatus::Rejected] {
        given::<Reservation>(&history(status, days(60)))
            .when(&ReservationCommand::SeatsAllocated { seats: seats() }, now())
            .then_events(&[])
            .then_effects(&[release()]);
    }
}

#[test]
fn allocation_failure_rejects_the_reservation_once() {
    let failure = AllocationFailure::InsufficientInventory { section: "Floor".into(), requested: 2, available: 1 };
    let then = given::<Reservation>(&history(ReservationStatus::Initiated, days(60)))
        .when(&ReservationCommand::AllocationFailed { failure: failure.clone() }, now());
    then.then_events(&[ReservationEvent::AllocationRejected { failure: failure.clone(), at: now() }]).then_effects(&[]);
    let state = then.state_after();
    assert_eq!(state.status(), Some(ReservationStatus::Rejected));
    assert_eq!(state.details().unwrap().failure, Some(failure.clone()));
    given::<Reservation>(&history(ReservationStatus::Rejected, days(60)))
        .when(&ReservationCommand::AllocationFailed { failure: failure.clone() }, now())
        .then_nothing();
    given::<Reservation>(&history(ReservationStatus::SeatsReserved, days(60)))
        .when(&ReservationCommand::AllocationFailed { failure }, now())
        .then_nothing();
}

// ---- payment ----

#[test]
fn request_payment_starts_a_payment_for_the_total() {
    let then = given::<Reservation>(&history(ReservationStatus::SeatsReserved, days(60)))
        .when(&ReservationCommand::RequestPayment { payment_id: pid() }, now());
    then.then_events(&[requested()]).then_effects(&[send(Command::Payment(
        pid(),
        PaymentCommand::Start {
            payment_id: pid(),
            reservation_id: rid(),
            customer_id: alice(),
            amount: Money::from_cents(8_000),
        },
    ))]);
    assert_eq!(status_after(&then), ReservationStatus::PaymentPending);
}

#[test]
fn request_payment_after_the_hold_ran_out_is_refused() {
    let expires = now() + chrono::Duration::seconds(300);
    given::<Reservation>(&history(ReservationStatus::SeatsReserved, days(60)))
        .when(&ReservationCommand::RequestPayment { payment_id: pid() }, expires)
        .then_error(&DomainError::ReservationExpired);
    given::<Reservation>(&history(ReservationStatus::Expired, days(60)))
        .when(&ReservationCommand::RequestPayment { payment_id: pid() }, now())
        .then_error(&DomainError::ReservationExpired);
}

#[test]
fn request_payment_is_idempotent_per_payment_and_refused_elsewhere() {
    given::<Reservation>(&history(ReservationStatus::PaymentPending, days(60)))
        .when(&ReservationCommand::RequestPayment { payment_id: pid() }, now())
        .then_nothing();
    given::<Reservation>(&history(ReservationStatus::PaymentPending, days(60)))
        .when(&ReservationCommand::RequestPayment { payment_id: PaymentId::from_uuid(uuid::Uuid::from_u128(5)) }, now())
        .then_error(&DomainError::InvalidStateTransition { from: "payment_pending", action: "pay" });
    given::<Reservation>(&history(ReservationStatus::Initiated, days(60)))
        .when(&ReservationCommand::RequestPayment { payment_id: pid() }, now())
        .then_error_code("INVALID_STATE_TRANSITION");
    for status in [
        ReservationStatus::Completed,
        ReservationStatus::Cancelled,
        ReservationStatus::Compensated,
        ReservationStatus::Refunded,
        ReservationStatus::Rejected,
    ] {
        given::<Reservation>(&history(status, days(60)))
            .when(&ReservationCommand::RequestPayment { payment_id: pid() }, now())
            .then_error(&DomainError::InvalidStateTransition { from: status.as_str(), action: "pay" });
    }
}

#[test]
fn payment_success_completes_issues_one_ticket_per_seat_and_sells_the_seats() {
    let then = given::<Reservation>(&history(ReservationStatus::PaymentPending, days(60)))
        .when(&ReservationCommand::PaymentSucceeded { payment_id: pid(), amount: Money::from_cents(8_000) }, now());
    then.then_events(&[completed()])
        .then_effects(&[send(Command::Inventory(event_id(), InventoryCommand::Confirm { reservation_id: rid() }))]);
    let state = then.state_after();
    let details = state.details().unwrap();
    assert_eq!(details.status, ReservationStatus::Completed);
    assert_eq!(details.tickets.len(), 2);
    assert_eq!(details.net_revenue(), Money::from_cents(8_000));
}

#[test]
fn a_repeated_payment_success_changes_nothing() {
    given::<Reservation>(&history(ReservationStatus::Completed, days(60)))
        .when(&ReservationCommand::PaymentSucceeded { payment_id: pid(), amount: Money::from_cents(8_000) }, now())
        .then_nothing();
}

#[test]
fn a_payment_that_lands_after_the_hold_ended_is_refunded_in_full() {
    for status in [
        ReservationStatus::Expired,
        ReservationStatus::Cancelled,
        ReservationStatus::Compensated,
        ReservationStatus::Rejected,
    ] {
        let refund_id: RefundId = Id::derive(pid(), "late-payment");
        let then = given::<Reservation>(&history(status, days(60)))
            .when(&ReservationCommand::PaymentSucceeded { payment_id: pid(), amount: Money::from_cents(8_000) }, now());
        then.then_events(&[ReservationEvent::LatePaymentRefunded {
            payment_id: pid(),
            refund_id,
            amount: Money::from_cents(8_000),
            at: now(),
        }])
        .then_effects(&[send(Command::Payment(
            pid(),
            PaymentCommand::Refund {
                refund_id,
                amount: RefundAmount::UpTo(Money::from_cents(8_000)),
                reason: "payment arrived after the reservation ended".into(),
            },
        ))]);
        assert_eq!(status_after(&then), status, "a late payment does not revive the reservation");
        // ... and only once.
        let mut h = history(status, days(60));
        h.extend(then.decision().events.iter().cloned());
        given::<Reservation>(&h)
            .when(&ReservationCommand::PaymentSucceeded { payment_id: pid(), amount: Money::from_cents(8_000) }, now())
            .then_nothing();
    }
}

#[test]
fn a_second_payment_for_a_paid_reservation_is_refunded() {
    let other = PaymentId::from_uuid(uuid::Uuid::from_u128(0x2));
    given::<Reservation>(&history(ReservationStatus::Completed, days(60)))
        .when(&ReservationCommand::PaymentSucceeded { payment_id: other, amount: Money::from_cents(8_000) }, now())
        .then_events(&[ReservationEvent::LatePaymentRefunded {
            payment_id: other,
            refund_id: Id::derive(other, "late-payment"),
            amount: Money::from_cents(8_000),
            at: now(),
        }]);
}

#[test]
fn payment_failure_compensates_by_releasing_the_seats() {
    let then = given::<Reservation>(&history(ReservationStatus::PaymentPending, days(60)))
        .when(&ReservationCommand::PaymentFailed { payment_id: pid(), reason: "insufficient_funds".into() }, now());
    then.then_events(&[ReservationEvent::PaymentFailed {
        payment_id: pid(),
        reason: "insufficient_funds".into(),
        at: now(),
    }])
    .then_effects(&[release()]);
    let state = then.state_after();
    assert_eq!(state.status(), Some(ReservationStatus::Compensated));
    assert_eq!(state.details().unwrap().payment_failure.as_deref(), Some("insufficient_funds"));
}

#[test]
fn late_or_foreign_payment_failures_change_nothing() {
    for status in [
        ReservationStatus::Compensated,
        ReservationStatus::Expired,
        ReservationStatus::Completed,
        ReservationStatus::SeatsReserved,
    ] {
        given::<Reservation>(&history(status, days(60)))
            .when(&ReservationCommand::PaymentFailed { payment_id: pid(), reason: "x".into() }, now())
            .then_nothing();
    }
}

// ---- expiry ----

#[test]
fn expiry_releases_unpaid_seats() {
    let at = now() + chrono::Duration::seconds(300);
    for status in [ReservationStatus::Initiated, ReservationStatus::SeatsReserved, ReservationStatus::PaymentPending] {
        let then = given::<Reservation>(&history(status, days(60))).when(&ReservationCommand::Expire, at);
        then.then_events(&[ReservationEvent::Expired { at }]).then_effects(&[release()]);
        assert_eq!(status_after(&then), ReservationStatus::Expired);
    }
}

#[test]
fn an_early_timer_is_set_again_for_the_real_expiry() {
    let expires_at = now() + chrono::Duration::seconds(300);
    given::<Reservation>(&history(ReservationStatus::SeatsReserved, days(60)))
        .when(&ReservationCommand::Expire, expires_at - chrono::Duration::seconds(1))
        .then_events(&[])
        .then_effects(&[Effect::Schedule {
            at: expires_at,
            command: Command::Reservation(rid(), ReservationCommand::Expire),
        }]);
}

#[test]
fn a_late_timer_changes_nothing_once_the_saga_moved_on() {
    let at = now() + days(1);
    for status in [
        ReservationStatus::Completed,
        ReservationStatus::Expired,
        ReservationStatus::Cancelled,
        ReservationStatus::Compensated,
        ReservationStatus::Refunded,
        ReservationStatus::Rejected,
    ] {
        given::<Reservation>(&history(status, days(60))).when(&ReservationCommand::Expire, at).then_nothing();
    }
}

// ---- cancellation and refunds ----

#[test]
fn cancel_before_payment_releases_the_seats() {
    for status in [ReservationStatus::Initiated, ReservationStatus::SeatsReserved] {
        let then = given::<Reservation>(&history(status, days(60))).when(&ReservationCommand::Cancel, now());
        then.then_events(&[ReservationEvent::Cancelled { by: CancelledBy::Customer, at: now() }])
            .then_effects(&[release()]);
        assert_eq!(status_after(&then), ReservationStatus::Cancelled);
    }
}

#[test]
fn cancel_while_charging_or_after_the_end_is_refused() {
    for status in [
        ReservationStatus::PaymentPending,
        ReservationStatus::Expired,
        ReservationStatus::Cancelled,
        ReservationStatus::Compensated,
        ReservationStatus::Refunded,
        ReservationStatus::Rejected,
    ] {
        given::<Reservation>(&history(status, days(60)))
            .when(&ReservationCommand::Cancel, now())
            .then_error(&DomainError::InvalidStateTransition { from: status.as_str(), action: "cancel" });
    }
}

fn customer_refund(amount: u64, share: RefundShare, at: Timestamp) -> (ReservationEvent, Vec<Effect>) {
    let refund_id: RefundId = Id::derive(rid(), "customer-cancel");
    let event = ReservationEvent::Refunded {
        refund_id,
        amount: Money::from_cents(amount),
        share,
        by: CancelledBy::Customer,
        at,
    };
    let effects = vec![
        send(Command::Inventory(event_id(), InventoryCommand::ReturnSold { reservation_id: rid() })),
        send(Command::Payment(
            pid(),
            PaymentCommand::Refund {
                refund_id,
                amount: RefundAmount::TopUpTo(Money::from_cents(amount)),
                reason: "cancelled by the customer".into(),
            },
        )),
    ];
    (event, effects)
}

#[test]
fn cancel_after_payment_refunds_by_policy_and_returns_the_seats() {
    let start = now() + days(20);
    for (at, amount, share) in [
        (start - days(8), 8_000, RefundShare::Full),
        (start - days(7), 4_000, RefundShare::Half),
        (start - days(3), 4_000, RefundShare::Half),
    ] {
        let (event, effects) = customer_refund(amount, share, at);
        let then = given::<Reservation>(&history(ReservationStatus::Completed, days(20)))
            .when(&ReservationCommand::Cancel, at);
        then.then_events(&[event]).then_effects(&effects);
        let state = then.state_after();
        assert_eq!(state.status(), Some(ReservationStatus::Refunded));
        assert!(state.details().unwrap().tickets.iter().all(|t| t.status == TicketStatus::Void));
    }
}

#[test]
fn cancel_within_3_days_of_the_event_is_refused_and_tickets_stay_valid() {
    let at = now() + days(20) - days(3) + chrono::Duration::seconds(1);
    given::<Reservation>(&history(ReservationStatus::Completed, days(20)))
        .when(&ReservationCommand::Cancel, at)
        .then_error_code("CANCELLATION_WINDOW_CLOSED");
}

#[test]
fn refunds_are_recorded_once_per_refund_id() {
    let refund_id: RefundId = Id::derive(rid(), "customer-cancel");
    let record = ReservationCommand::RecordRefund { refund_id, payment_id: pid(), amount: Money::from_cents(8_000) };
    let then = given::<Reservation>(&history(ReservationStatus::Refunded, days(60))).when(&record, now());
    then.then_events(&[ReservationEvent::RefundRecorded {
        refund_id,
        payment_id: pid(),
        amount: Money::from_cents(8_000),
    }]);
    assert_eq!(then.state_after().details().unwrap().net_revenue(), Money::ZERO);
    let mut h = history(ReservationStatus::Refunded, days(60));
    h.push(ReservationEvent::RefundRecorded { refund_id, payment_id: pid(), amount: Money::from_cents(8_000) });
    given::<Reservation>(&h).when(&record, now()).then_nothing();
}

#[test]
fn a_refund_of_every_cent_voids_the_tickets_and_returns_the_seats() {
    let half: RefundId = Id::derive(rid(), "admin-1");
    let rest: RefundId = Id::derive(rid(), "admin-2");
    // Half back: a goodwill gesture, the tickets stay valid.
    let first =
        ReservationCommand::RecordRefund { refund_id: half, payment_id: pid(), amount: Money::from_cents(4_000) };
    let then = given::<Reservation>(&history(ReservationStatus::Completed, days(60))).when(&first, now());
    then.then_events(&[ReservationEvent::RefundRecorded {
        refund_id: half,
        payment_id: pid(),
        amount: Money::from_cents(4_000),
    }])
    .then_effects(&[]);
    // The other half: the order is undone.
    let mut h = history(ReservationStatus::Completed, days(60));
    h.push(ReservationEvent::RefundRecorded { refund_id: half, payment_id: pid(), amount: Money::from_cents(4_000) });
    let second =
        ReservationCommand::RecordRefund { refund_id: rest, payment_id: pid(), amount: Money::from_cents(4_000) };
    let then = given::<Reservation>(&h).when(&second, now());
    then.then_events(&[
        ReservationEvent::RefundRecorded { refund_id: rest, payment_id: pid(), amount: Money::from_cents(4_000) },
        ReservationEvent::Refunded {
            refund_id: rest,
            amount: Money::from_cents(8_000),
            share: RefundShare::Full,
            by: CancelledBy::Admin,
            at: now(),
        },
    ])
    .then_effects(&[send(Command::Inventory(event_id(), InventoryCommand::ReturnSold { reservation_id: rid() }))]);
    let after = then.state_after();
    let details = after.details().unwrap();
    assert_eq!(details.status, ReservationStatus::Refunded);
    assert!(details.tickets.iter().all(|t| t.status == TicketStatus::Void));
}

#[test]
fn an_organiser_cancellation_releases_holds_and_refunds_paid_reservations_in_full() {
    for status in [ReservationStatus::Initiated, ReservationStatus::SeatsReserved, ReservationStatus::PaymentPending] {
        given::<Reservation>(&history(status, days(60)))
            .when(&ReservationCommand::EventCancelled, now())
            .then_events(&[ReservationEvent::Cancelled { by: CancelledBy::Organiser, at: now() }])
            .then_effects(&[release()]);
    }
    // Even within 3 days of the start, the organiser's cancellation refunds everything.
    let at = now() + days(20) - days(2);
    let refund_id: RefundId = Id::derive(rid(), "event-cancelled");
    let then = given::<Reservation>(&history(ReservationStatus::Completed, days(20)))
        .when(&ReservationCommand::EventCancelled, at);
    then.then_events(&[ReservationEvent::Refunded {
        refund_id,
        amount: Money::from_cents(8_000),
        share: RefundShare::Full,
        by: CancelledBy::Organiser,
        at,
    }])
    .then_effects(&[
        send(Command::Inventory(event_id(), InventoryCommand::ReturnSold { reservation_id: rid() })),
        send(Command::Payment(
            pid(),
            PaymentCommand::Refund {
                refund_id,
                amount: RefundAmount::TopUpTo(Money::from_cents(8_000)),
                reason: "event cancelled by the organiser".into(),
            },
        )),
    ]);
    assert_eq!(status_after(&then), ReservationStatus::Refunded);
    for status in [
        ReservationStatus::Expired,
        ReservationStatus::Cancelled,
        ReservationStatus::Compensated,
        ReservationStatus::Refunded,
        ReservationStatus::Rejected,
    ] {
        given::<Reservation>(&history(status, days(60)))
            .when(&ReservationCommand::EventCancelled, now())
            .then_nothing();
    }
}

// ---- tickets ----

fn ticket_id() -> TicketId {
    tickets()[0].ticket_id
}

#[test]
fn a_ticket_moves_to_its_new_owner_only() {
    let transfer = ReservationCommand::TransferTicket { ticket_id: ticket_id(), from: alice(), to: bob() };
    let then = given::<Reservation>(&history(ReservationStatus::Completed, days(60))).when(&transfer, now());
    then.then_events(&[ReservationEvent::TicketTransferred {
        ticket_id: ticket_id(),
        from: alice(),
        to: bob(),
        at: now(),
    }]);
    let state = then.state_after();
    let owners: Vec<_> = state.details().unwrap().tickets.iter().map(|t| t.owner).collect();
    assert_eq!(owners, [bob(), alice()]);

    // Alice no longer owns it: for her it does not exist.
    let mut h = history(ReservationStatus::Completed, days(60));
    h.extend(then.decision().events.iter().cloned());
    given::<Reservation>(&h).when(&transfer, now()).then_error(&DomainError::TicketNotFound);
    // Bob can pass it on.
    given::<Reservation>(&h)
        .when(&ReservationCommand::TransferTicket { ticket_id: ticket_id(), from: bob(), to: alice() }, now())
        .decision();
    // And the buyer can no longer cancel away Bob's ticket.
    given::<Reservation>(&h)
        .when(&ReservationCommand::Cancel, now())
        .then_error(&DomainError::InvalidStateTransition { from: "tickets transferred", action: "cancel" });
}

#[test]
fn transfer_is_refused_within_24_hours_to_oneself_and_for_void_or_unknown_tickets() {
    let transfer = ReservationCommand::TransferTicket { ticket_id: ticket_id(), from: alice(), to: bob() };
    given::<Reservation>(&history(ReservationStatus::Completed, days(1)))
        .when(&transfer, now())
        .then_error(&DomainError::TransferWindowClosed);
    given::<Reservation>(&history(ReservationStatus::Completed, days(60)))
        .when(&ReservationCommand::TransferTicket { ticket_id: ticket_id(), from: alice(), to: alice() }, now())
        .then_error_code("VALIDATION_FAILED");
    given::<Reservation>(&history(ReservationStatus::Refunded, days(60)))
        .when(&transfer, now())
        .then_error(&DomainError::InvalidStateTransition { from: "void", action: "transfer" });
    given::<Reservation>(&history(ReservationStatus::SeatsReserved, days(60)))
        .when(&transfer, now())
        .then_error(&DomainError::TicketNotFound);
}

// ---- the table drives apply ----

#[test]
fn every_status_changing_event_moves_exactly_as_the_table_says() {
    for (from, trigger, to) in machine::TRANSITIONS {
        let h = history(*from, days(60));
        let state = Reservation::replay(&h);
        assert_eq!(state.status(), Some(*from));
        let at = now() + chrono::Duration::seconds(300);
        let command = match trigger {
            Trigger::SeatsAllocated => ReservationCommand::SeatsAllocated { seats: seats() },
            Trigger::AllocationFailed => {
                ReservationCommand::AllocationFailed { failure: AllocationFailure::SalesNotOpen }
            }
            Trigger::PaymentRequested => ReservationCommand::RequestPayment { payment_id: pid() },
            Trigger::PaymentSucceeded => {
                ReservationCommand::PaymentSucceeded { payment_id: pid(), amount: Money::from_cents(8_000) }
            }
            Trigger::PaymentFailed => ReservationCommand::PaymentFailed { payment_id: pid(), reason: "no".into() },
            Trigger::Expire => ReservationCommand::Expire,
            Trigger::Cancel => ReservationCommand::Cancel,
            Trigger::EventCancelled => ReservationCommand::EventCancelled,
        };
        let at = if *trigger == Trigger::Expire { at } else { now() };
        let then = given::<Reservation>(&h).when(&command, at);
        assert_eq!(status_after(&then), *to, "{from:?} × {trigger:?}");
    }
}

#[test]
fn the_policy_refund_is_a_total_the_payment_tops_up_to() {
    // Whether or not this reservation has heard of an earlier goodwill refund, it asks for the
    // policy's total (80.00); the payment, which knows what was refunded, pays the difference.
    let mut h = history(ReservationStatus::Completed, days(60));
    let (event, effects) = customer_refund(8_000, RefundShare::Full, now());
    given::<Reservation>(&h).when(&ReservationCommand::Cancel, now()).then_events(&[event]).then_effects(&effects);
    h.push(ReservationEvent::RefundRecorded {
        refund_id: Id::derive(pid(), "goodwill"),
        payment_id: pid(),
        amount: Money::from_cents(3_000),
    });
    let (event, effects) = customer_refund(8_000, RefundShare::Full, now());
    given::<Reservation>(&h).when(&ReservationCommand::Cancel, now()).then_events(&[event]).then_effects(&effects);
}
