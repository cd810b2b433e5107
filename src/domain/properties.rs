//! Properties over random histories: many buyers racing for the same seats, payments that
//! succeed, fail or arrive late, expiries, cancellations by buyers and by the organiser, admin
//! refunds, transfers, and every message between aggregates delivered in random order and
//! sometimes twice.
//!
//! 1. Never oversold: per section and per seat (checked after every inventory event, and no seat
//!    is on two valid tickets).
//! 2. Replay = state: every stream's events, encoded as the store encodes them and decoded again,
//!    rebuild exactly the live state.
//! 3. Money is conserved: what the gateway captured minus what it refunded equals the revenue the
//!    reservations report and the payments report; no payment refunds more than it captured.
//! 4. A reservation that ends without completing holds no seats; a completed one holds them as
//!    sold; once every timer has run, no seat is held by anyone.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::money::Money;
use super::reducer::Aggregate;
use super::reservation::ReservationStatus;
use super::seating::SeatNumber;
use super::sim::{Stream, World};
use crate::domain::inventory::HoldStatus;

#[derive(Debug, Clone)]
enum Op {
    Buy { buyer: u8, numbered: bool, quantity: u8, pick: Option<Vec<(u8, u8)>> },
    Pay { pick: usize },
    Gateway { pick: usize, success: bool },
    Deliver { pick: usize, count: u8 },
    Redeliver { pick: usize },
    Advance { seconds: i64 },
    Cancel { pick: usize },
    CancelEvent,
    AdminRefund { pick: usize, cents: u64 },
    Transfer { pick: usize, to: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    let seats = prop::collection::vec((0u8..3, 1u8..=4), 1..=3);
    prop_oneof![
        6 => (0u8..5, any::<bool>(), 1u8..=4, prop::option::weighted(0.5, seats))
            .prop_map(|(buyer, numbered, quantity, pick)| Op::Buy { buyer, numbered, quantity, pick }),
        5 => any::<usize>().prop_map(|pick| Op::Pay { pick }),
        5 => (any::<usize>(), prop::bool::weighted(0.75)).prop_map(|(pick, success)| Op::Gateway { pick, success }),
        12 => (any::<usize>(), 1u8..=4).prop_map(|(pick, count)| Op::Deliver { pick, count }),
        3 => any::<usize>().prop_map(|pick| Op::Redeliver { pick }),
        2 => prop_oneof![8 => 1i64..60, 2 => 250i64..400, 1 => Just(86_400 * 50)].prop_map(|seconds| Op::Advance { seconds }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => Just(Op::CancelEvent),
        1 => (any::<usize>(), 1u64..12_000).prop_map(|(pick, cents)| Op::AdminRefund { pick, cents }),
        1 => (any::<usize>(), 0u8..5).prop_map(|(pick, to)| Op::Transfer { pick, to }),
    ]
}

fn nth<T: Copy>(items: &[T], pick: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[pick % items.len()])
}

fn play(world: &mut World, op: &Op) {
    match op {
        Op::Buy { buyer, numbered, quantity, pick } => {
            let (section, seats) = if *numbered {
                let seats = pick.as_ref().map(|p| {
                    let mut labels: Vec<SeatNumber> =
                        p.iter().map(|(r, s)| SeatNumber::new(u32::from(*r), u32::from(*s)).unwrap()).collect();
                    labels.dedup();
                    labels
                });
                let quantity = seats.as_ref().map_or(*quantity, |s| u8::try_from(s.len()).unwrap());
                world.buy(*buyer, "Balcony", quantity, seats);
                return;
            } else {
                ("Floor", None)
            };
            world.buy(*buyer, section, *quantity, seats);
        }
        Op::Pay { pick } => {
            // Mostly buyers holding seats pay; sometimes anyone tries (and is refused).
            let holding: Vec<_> = world
                .reservation_ids()
                .into_iter()
                .filter(|id| world.status(*id) == Some(ReservationStatus::SeatsReserved))
                .collect();
            let candidates = if holding.is_empty() || pick % 5 == 0 { world.reservation_ids() } else { holding };
            if let Some(id) = nth(&candidates, *pick) {
                world.pay(id);
            }
        }
        Op::Gateway { pick, success } => world.gateway_answers(*pick, *success),
        Op::Deliver { pick, count } => {
            for i in 0..usize::from(*count) {
                world.deliver(pick.wrapping_add(i));
            }
        }
        Op::Redeliver { pick } => world.redeliver(*pick),
        Op::Advance { seconds } => world.advance(*seconds),
        Op::Cancel { pick } => {
            if let Some(id) = nth(&world.reservation_ids(), *pick) {
                world.cancel(id);
            }
        }
        Op::CancelEvent => world.cancel_event(),
        Op::AdminRefund { pick, cents } => {
            if let Some(id) = nth(&world.payment_ids(), *pick) {
                world.admin_refund(id, *cents);
            }
        }
        Op::Transfer { pick, to } => {
            let Some(id) = nth(&world.reservation_ids(), *pick) else { return };
            let Some(ticket) = world.reservations[&id].state.details().and_then(|d| d.tickets.first().cloned()) else {
                return;
            };
            world.transfer(id, ticket.ticket_id, ticket.owner, World::customer(*to));
        }
    }
}

/// No seat on two valid tickets, and never more valid tickets than seats.
fn check_not_oversold(world: &World) -> Result<(), TestCaseError> {
    let seats = world.valid_ticket_seats();
    let distinct: BTreeSet<_> = seats.iter().collect();
    prop_assert_eq!(distinct.len(), seats.len(), "a seat is on two valid tickets");
    for (name, section) in world.inventory.state.sections() {
        let tickets = seats.iter().filter(|(s, _)| s == name).count();
        prop_assert!(tickets <= section.capacity() as usize);
        prop_assert!(section.reserved() + section.sold() <= section.capacity());
    }
    Ok(())
}

fn bincode_round_trip<E: Serialize + DeserializeOwned>(events: &[E]) -> Vec<E> {
    let config = bincode::config::standard();
    events
        .iter()
        .map(|e| {
            let bytes = bincode::serde::encode_to_vec(e, config).unwrap();
            bincode::serde::decode_from_slice(&bytes, config).unwrap().0
        })
        .collect()
}

fn check_replay<A>(stream: &Stream<A>) -> Result<(), TestCaseError>
where
    A: Aggregate + PartialEq,
    A::Event: Serialize + DeserializeOwned,
{
    let decoded = bincode_round_trip(&stream.log);
    prop_assert!(A::replay(&decoded) == stream.state, "replay differs from live state");
    Ok(())
}

fn check_money(world: &World) -> Result<(), TestCaseError> {
    let net_gateway = world.gateway_captured.checked_sub(world.gateway_refunded);
    prop_assert!(net_gateway.is_some(), "gateway refunded more than it captured");
    let mut payments_net = Money::ZERO;
    for payment in world.payments.values() {
        let Some(p) = payment.state.details() else { continue };
        prop_assert!(p.refunded <= p.captured, "payment refunded more than captured");
        payments_net = payments_net.checked_add(p.captured.saturating_sub(p.refunded)).unwrap();
        let reservation = world.reservations[&p.reservation_id].state.details().unwrap();
        let (captured, refunded): (Money, Money) = world
            .payments
            .values()
            .filter_map(|q| q.state.details())
            .filter(|q| q.reservation_id == p.reservation_id)
            .fold((Money::ZERO, Money::ZERO), |(c, r), q| {
                (c.checked_add(q.captured).unwrap(), r.checked_add(q.refunded).unwrap())
            });
        prop_assert_eq!(reservation.captured, captured, "reservation and payments disagree on captures");
        prop_assert_eq!(reservation.refunded, refunded, "reservation and payments disagree on refunds");
    }
    let reservations_net: Money = world
        .reservations
        .values()
        .filter_map(|r| r.state.details())
        .map(super::reservation::ReservationDetails::net_revenue)
        .sum();
    prop_assert_eq!(Some(payments_net), net_gateway, "payments disagree with the gateway");
    prop_assert_eq!(reservations_net, payments_net, "reservations disagree with payments");
    // Nobody pays for seats they do not get.
    for r in world.reservations.values().filter_map(|r| r.state.details()) {
        if !matches!(r.status, ReservationStatus::Completed | ReservationStatus::Refunded) {
            prop_assert_eq!(r.net_revenue(), Money::ZERO, "{:?} kept money", r.status);
        }
        prop_assert!(r.net_revenue() <= r.total || r.status != ReservationStatus::Completed);
    }
    Ok(())
}

fn check_holds(world: &World) -> Result<(), TestCaseError> {
    for id in world.reservation_ids() {
        let status = world.status(id).unwrap();
        let hold = world.hold_status(id);
        match status {
            ReservationStatus::Completed => prop_assert_eq!(hold, Some(HoldStatus::Sold)),
            s if s.is_terminal() => {
                prop_assert!(!matches!(hold, Some(HoldStatus::Held | HoldStatus::Sold)), "{:?} still holds seats", s);
            }
            s => prop_assert!(false, "{:?} is not settled after every timer ran", s),
        }
    }
    for (_, section) in world.inventory.state.sections() {
        prop_assert_eq!(section.reserved(), 0, "a hold outlived its timer");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_keep_every_promise(ops in prop::collection::vec(op(), 1..80)) {
        let mut world = World::on_sale();
        for op in &ops {
            play(&mut world, op);
            check_not_oversold(&world)?;
        }
        world.settle();
        prop_assert!(world.system_errors.is_empty(), "{:#?}", world.system_errors);
        check_not_oversold(&world)?;
        check_replay(&world.event)?;
        check_replay(&world.inventory)?;
        for stream in world.reservations.values() {
            check_replay(stream)?;
        }
        for stream in world.payments.values() {
            check_replay(stream)?;
        }
        check_money(&world)?;
        check_holds(&world)?;
    }
}

#[test]
fn a_flash_sale_sells_each_seat_once() {
    // 40 buyers want 2 of the 10 floor places; every message in order.
    let mut world = World::on_sale();
    let mut winners = Vec::new();
    for buyer in 0..40u8 {
        if let Some(id) = world.buy(buyer % 5, "Floor", 2, None) {
            world.drain();
            if world.status(id) == Some(ReservationStatus::SeatsReserved) {
                winners.push(id);
            }
        }
    }
    assert_eq!(winners.len(), 5);
    for id in &winners {
        world.pay(*id);
    }
    world.drain();
    while !world.charges.is_empty() {
        world.gateway_answers(0, true);
        world.drain();
    }
    assert_eq!(world.valid_ticket_seats().len(), 10);
    assert_eq!(world.inventory.state.section("Floor").unwrap().sold(), 10);
    assert!(world.system_errors.is_empty(), "{:?}", world.system_errors);
}

/// What can happen to one paid reservation: admins refund parts of it, the buyer cancels, time
/// passes (the policy's share changes), and the messages between the reservation and its payment
/// arrive in any order.
#[derive(Debug, Clone)]
enum RefundOp {
    AdminRefund { cents: u64 },
    Cancel,
    Deliver { pick: usize },
    Advance { days: i64 },
}

fn refund_op() -> impl Strategy<Value = RefundOp> {
    prop_oneof![
        3 => (1u64..6_000).prop_map(|cents| RefundOp::AdminRefund { cents }),
        2 => Just(RefundOp::Cancel),
        4 => any::<usize>().prop_map(|pick| RefundOp::Deliver { pick }),
        1 => (1i64..=30).prop_map(|days| RefundOp::Advance { days }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Admin refunds racing a buyer's cancellation: whatever order the messages take, the buyer
    /// never gets back more than the larger of what admins refunded and what the policy gives,
    /// and the payment never refunds more than it captured.
    #[test]
    fn refunds_never_add_up_past_the_larger_of_admin_and_policy(ops in prop::collection::vec(refund_op(), 1..25)) {
        let mut world = World::on_sale();
        let id = world.buy(1, "Floor", 2, None).unwrap();
        world.drain();
        world.pay(id);
        world.drain();
        world.gateway_answers(0, true);
        world.drain();
        prop_assert_eq!(world.status(id), Some(ReservationStatus::Completed));
        let payment_id = world.payment_ids()[0];
        let captured = world.payments[&payment_id].state.details().unwrap().captured;

        let refunded = |world: &World| world.payments[&payment_id].state.details().unwrap().refunded;
        let mut admin_total = Money::ZERO;
        let mut policy: Option<Money> = None;
        let mut admin_after_cancel = false;
        for op in &ops {
            match op {
                RefundOp::AdminRefund { cents } => {
                    let before = refunded(&world);
                    world.admin_refund(payment_id, *cents);
                    let paid = refunded(&world).checked_sub(before).unwrap();
                    admin_total = admin_total.checked_add(paid).unwrap();
                    admin_after_cancel |= policy.is_some() && !paid.is_zero();
                }
                RefundOp::Cancel => {
                    let share = super::policy::RefundShare::for_customer(
                        world.reservations[&id].state.details().unwrap().event_date,
                        world.now,
                    );
                    let was = world.status(id);
                    world.cancel(id);
                    if was == Some(ReservationStatus::Completed) && world.status(id) == Some(ReservationStatus::Refunded) {
                        let total = world.reservations[&id].state.details().unwrap().total;
                        policy = share.refund_of(total);
                    }
                }
                RefundOp::Deliver { pick } => world.deliver(*pick),
                RefundOp::Advance { days } => world.advance(days * 86_400),
            }
        }
        world.drain();
        prop_assert!(world.system_errors.is_empty(), "{:#?}", world.system_errors);
        let total_refunded = refunded(&world);
        prop_assert!(total_refunded <= captured, "refunded {total_refunded} of {captured}");
        prop_assert_eq!(world.gateway_refunded, total_refunded, "the gateway paid what the payment says");
        if !admin_after_cancel {
            let bound = admin_total.max(policy.unwrap_or(Money::ZERO));
            prop_assert!(total_refunded <= bound, "refunded {} > max(admin {}, policy {:?})", total_refunded, admin_total, policy);
            if let Some(policy) = policy {
                prop_assert!(total_refunded >= policy.min(captured), "the policy's refund was paid in full");
            }
        }
        let reservation = world.reservations[&id].state.details().unwrap();
        prop_assert_eq!(reservation.refunded, total_refunded, "the reservation heard of every refund");
    }
}
