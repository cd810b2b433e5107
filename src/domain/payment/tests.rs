use super::*;
use crate::domain::ids::Id;
use crate::domain::testing::*;

fn pid() -> PaymentId {
    PaymentId::from_uuid(uuid::Uuid::from_u128(0x9A1))
}
fn rid() -> ReservationId {
    reservation(1)
}
fn refund_id(n: &str) -> RefundId {
    Id::derive(pid(), n)
}
fn last4() -> CardLast4 {
    CardLast4::of("4242 4242 4242 4242").unwrap()
}
fn amount() -> Money {
    Money::from_cents(8_000)
}
fn start() -> PaymentCommand {
    PaymentCommand::Start { payment_id: pid(), reservation_id: rid(), customer_id: alice(), amount: amount() }
}
fn started() -> PaymentEvent {
    PaymentEvent::Started {
        payment_id: pid(),
        reservation_id: rid(),
        customer_id: alice(),
        amount: amount(),
        at: now(),
    }
}
fn captured() -> PaymentEvent {
    PaymentEvent::Captured { card_last4: last4(), gateway_reference: "sim_1".into(), at: now() }
}
fn refunded(name: &str, cents: u64) -> PaymentEvent {
    PaymentEvent::Refunded {
        refund_id: refund_id(name),
        amount: Money::from_cents(cents),
        reason: "goodwill".into(),
        at: now(),
    }
}
fn refund(name: &str, cents: Option<u64>) -> PaymentCommand {
    let amount = cents.map_or(RefundAmount::Remaining, |c| RefundAmount::Exactly(Money::from_cents(c)));
    PaymentCommand::Refund { refund_id: refund_id(name), amount, reason: "goodwill".into() }
}
fn to_reservation(command: ReservationCommand) -> Effect {
    send(Command::Reservation(rid(), command))
}

#[test]
fn start_records_the_payment_and_asks_for_a_charge() {
    let then = given::<Payment>(&[]).when(&start(), now());
    then.then_events(&[started()]).then_effects(&[Effect::Charge { payment_id: pid(), amount: amount() }]);
    assert_eq!(then.state_after().details().unwrap().status, PaymentStatus::Pending);
}

#[test]
fn start_is_idempotent_and_refuses_a_different_payment_under_the_same_id() {
    given::<Payment>(&[started()]).when(&start(), now()).then_nothing();
    let other = PaymentCommand::Start {
        payment_id: pid(),
        reservation_id: reservation(2),
        customer_id: alice(),
        amount: amount(),
    };
    given::<Payment>(&[started()]).when(&other, now()).then_error(&DomainError::AlreadyExists("payment"));
    let zero =
        PaymentCommand::Start { payment_id: pid(), reservation_id: rid(), customer_id: alice(), amount: Money::ZERO };
    given::<Payment>(&[]).when(&zero, now()).then_error_code("VALIDATION_FAILED");
}

#[test]
fn commands_before_start_find_no_payment() {
    given::<Payment>(&[]).when(&refund("r", None), now()).then_error(&DomainError::PaymentNotFound);
}

#[test]
fn a_capture_tells_the_reservation() {
    let outcome = GatewayOutcome::Captured { card_last4: last4(), gateway_reference: "sim_1".into() };
    let then = given::<Payment>(&[started()]).when(&PaymentCommand::RecordOutcome { outcome }, now());
    then.then_events(&[captured()])
        .then_effects(&[to_reservation(ReservationCommand::PaymentSucceeded { payment_id: pid(), amount: amount() })]);
    let state = then.state_after();
    let details = state.details().unwrap();
    assert_eq!(
        (details.status, details.captured, details.card_last4.unwrap().to_string()),
        (PaymentStatus::Captured, amount(), "4242".into())
    );
}

#[test]
fn a_decline_tells_the_reservation_why() {
    let outcome = GatewayOutcome::Declined { card_last4: Some(last4()), reason: "card_declined".into() };
    let then = given::<Payment>(&[started()]).when(&PaymentCommand::RecordOutcome { outcome }, now());
    then.then_events(&[PaymentEvent::Declined {
        card_last4: Some(last4()),
        reason: "card_declined".into(),
        at: now(),
    }])
    .then_effects(&[to_reservation(ReservationCommand::PaymentFailed {
        payment_id: pid(),
        reason: "card_declined".into(),
    })]);
    let state = then.state_after();
    assert_eq!(state.details().unwrap().status, PaymentStatus::Declined);
    assert_eq!(state.details().unwrap().captured, Money::ZERO);
}

#[test]
fn the_first_outcome_is_final() {
    let declined = GatewayOutcome::Declined { card_last4: None, reason: "card_declined".into() };
    given::<Payment>(&[started(), captured()])
        .when(&PaymentCommand::RecordOutcome { outcome: declined }, now())
        .then_nothing();
    let captured_again = GatewayOutcome::Captured { card_last4: last4(), gateway_reference: "sim_2".into() };
    given::<Payment>(&[started(), captured()])
        .when(&PaymentCommand::RecordOutcome { outcome: captured_again }, now())
        .then_nothing();
}

#[test]
fn a_partial_refund_returns_funds_and_tells_the_reservation() {
    let then = given::<Payment>(&[started(), captured()]).when(&refund("a", Some(3_000)), now());
    then.then_events(&[refunded("a", 3_000)]).then_effects(&[
        Effect::ReturnFunds { payment_id: pid(), refund_id: refund_id("a"), amount: Money::from_cents(3_000) },
        to_reservation(ReservationCommand::RecordRefund {
            refund_id: refund_id("a"),
            payment_id: pid(),
            amount: Money::from_cents(3_000),
        }),
    ]);
    let state = then.state_after();
    let d = state.details().unwrap();
    assert_eq!((d.status, d.refundable()), (PaymentStatus::PartiallyRefunded, Money::from_cents(5_000)));
}

#[test]
fn a_refund_without_amount_returns_everything_left() {
    let then = given::<Payment>(&[started(), captured(), refunded("a", 3_000)]).when(&refund("b", None), now());
    then.then_events(&[refunded("b", 5_000)]);
    assert_eq!(then.state_after().details().unwrap().status, PaymentStatus::Refunded);
}

#[test]
fn refunds_never_exceed_the_capture() {
    given::<Payment>(&[started(), captured(), refunded("a", 3_000)])
        .when(&refund("b", Some(5_001)), now())
        .then_error(&DomainError::RefundExceedsCaptured { requested: 5_001, refundable: 5_000 });
    given::<Payment>(&[started(), captured(), refunded("a", 8_000)])
        .when(&refund("b", Some(1)), now())
        .then_error(&DomainError::InvalidStateTransition { from: "refunded", action: "refund" });
}

#[test]
fn refunds_need_a_capture_a_positive_amount_and_a_reason() {
    given::<Payment>(&[started()])
        .when(&refund("a", None), now())
        .then_error(&DomainError::InvalidStateTransition { from: "pending", action: "refund" });
    let declined = PaymentEvent::Declined { card_last4: None, reason: "x".into(), at: now() };
    given::<Payment>(&[started(), declined])
        .when(&refund("a", None), now())
        .then_error(&DomainError::InvalidStateTransition { from: "declined", action: "refund" });
    given::<Payment>(&[started(), captured()]).when(&refund("a", Some(0)), now()).then_error_code("VALIDATION_FAILED");
    let no_reason =
        PaymentCommand::Refund { refund_id: refund_id("a"), amount: RefundAmount::Remaining, reason: " ".into() };
    given::<Payment>(&[started(), captured()]).when(&no_reason, now()).then_error_code("VALIDATION_FAILED");
}

#[test]
fn a_repeated_refund_is_recognised_by_its_id() {
    given::<Payment>(&[started(), captured(), refunded("a", 3_000)])
        .when(&refund("a", Some(3_000)), now())
        .then_nothing();
}

#[test]
fn only_the_last_four_digits_are_kept() {
    assert_eq!(CardLast4::of("4000 0000 0000 9995").unwrap().to_string(), "9995");
    assert!(CardLast4::of("123").is_err());
    let debug = format!("{:?}", captured());
    assert!(!debug.contains("4242424242424242"));
}

#[test]
fn a_top_up_refund_pays_only_what_brings_the_total_to_its_amount() {
    let top_up = |cents| PaymentCommand::Refund {
        refund_id: refund_id("policy"),
        amount: RefundAmount::TopUpTo(Money::from_cents(cents)),
        reason: "goodwill".into(),
    };
    // Nothing refunded yet: all of it.
    given::<Payment>(&[started(), captured()]).when(&top_up(8_000), now()).then_events(&[refunded("policy", 8_000)]);
    // An admin's 30.00 already went back: 50.00 more, not 80.00.
    given::<Payment>(&[started(), captured(), refunded("a", 3_000)])
        .when(&top_up(8_000), now())
        .then_events(&[refunded("policy", 5_000)]);
    // More than the policy already went back, or everything: nothing more, and no refusal.
    given::<Payment>(&[started(), captured(), refunded("a", 6_000)]).when(&top_up(4_000), now()).then_nothing();
    given::<Payment>(&[started(), captured(), refunded("a", 10_000)]).when(&top_up(8_000), now()).then_nothing();
}

#[test]
fn an_up_to_refund_is_capped_at_what_is_left() {
    let up_to = PaymentCommand::Refund {
        refund_id: refund_id("b"),
        amount: RefundAmount::UpTo(Money::from_cents(8_000)),
        reason: "goodwill".into(),
    };
    given::<Payment>(&[started(), captured(), refunded("a", 3_000)])
        .when(&up_to, now())
        .then_events(&[refunded("b", 5_000)]);
}
