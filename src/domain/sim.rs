//! An in-memory world for property tests: the four aggregates wired together the way the runtime
//! wires them, except that every message between aggregates waits in an inbox and is delivered in
//! whatever order the test picks, possibly twice. If the invariants hold here under random
//! orders and duplicates, they hold for any runtime that delivers at least once.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;

use super::DomainError;
use super::event::{Event, EventCommand};
use super::ids::{CustomerId, PaymentId, RefundId, ReservationId, TicketId};
use super::inventory::{HoldStatus, Inventory};
use super::money::Money;
use super::payment::{CardLast4, GatewayOutcome, Payment, PaymentCommand, RefundAmount};
use super::reducer::{Aggregate, Command, Effect};
use super::reservation::{EventFacts, Reservation, ReservationCommand, ReservationStatus, TicketStatus};
use super::seating::SeatNumber;
use super::testing::{event_id, new_event, now};
use super::values::{Quantity, SectionName, Timestamp};

pub const HOLD_SECONDS: u32 = 300;
/// Unpaid seats a customer may hold at once (as in production).
pub const MAX_HELD: u8 = 8;

/// One aggregate instance: its state and the events that made it.
#[derive(Debug)]
pub struct Stream<A: Aggregate> {
    pub state: A,
    pub log: Vec<A::Event>,
}

impl<A: Aggregate> Default for Stream<A> {
    fn default() -> Self {
        Self { state: A::default(), log: Vec::new() }
    }
}

#[derive(Debug)]
pub struct World {
    pub now: Timestamp,
    pub event: Stream<Event>,
    pub inventory: Stream<Inventory>,
    pub reservations: BTreeMap<ReservationId, Stream<Reservation>>,
    pub payments: BTreeMap<PaymentId, Stream<Payment>>,
    /// Messages sent but not yet delivered.
    pub inbox: Vec<Command>,
    /// Messages already delivered once (candidates for a duplicate delivery).
    pub delivered: Vec<Command>,
    pub timers: Vec<(Timestamp, Command)>,
    /// Charges the gateway has been asked for and not yet answered.
    pub charges: Vec<PaymentId>,
    pub gateway_captured: Money,
    pub gateway_refunded: Money,
    gateway_refunds: BTreeSet<RefundId>,
    /// Refusals of messages between aggregates: each one is a bug (a saga that would stall).
    pub system_errors: Vec<String>,
    next_id: u128,
}

impl World {
    /// An event 60 days out, published and on sale, with its inventory initialised.
    pub fn on_sale() -> Self {
        let mut world = World {
            now: now(),
            event: Stream::default(),
            inventory: Stream::default(),
            reservations: BTreeMap::new(),
            payments: BTreeMap::new(),
            inbox: Vec::new(),
            delivered: Vec::new(),
            timers: Vec::new(),
            charges: Vec::new(),
            gateway_captured: Money::ZERO,
            gateway_refunded: Money::ZERO,
            gateway_refunds: BTreeSet::new(),
            system_errors: Vec::new(),
            next_id: 1,
        };
        let id = event_id();
        for command in [
            EventCommand::Create { event_id: id, event: new_event(Duration::days(60)) },
            EventCommand::Publish,
            EventCommand::OpenSales,
        ] {
            world.user(Command::Event(id, command)).unwrap_or_else(|e| panic!("setup: {e}"));
            world.drain();
        }
        world
    }

    fn fresh(&mut self) -> uuid::Uuid {
        self.next_id += 1;
        uuid::Uuid::from_u128(self.next_id)
    }

    pub fn customer(n: u8) -> CustomerId {
        CustomerId::from_uuid(uuid::Uuid::from_u128(0xC000 + u128::from(n)))
    }

    /// A command a person issued: refusals are normal answers.
    ///
    /// # Errors
    /// The domain's refusal.
    pub fn user(&mut self, command: Command) -> Result<(), DomainError> {
        self.execute(command)
    }

    /// A message between aggregates: a refusal is recorded as a bug.
    fn system(&mut self, command: Command) {
        if let Err(e) = self.execute(command.clone()) {
            self.system_errors.push(format!("{command:?} refused: {e:?}"));
        }
        self.delivered.push(command);
    }

    fn execute(&mut self, command: Command) -> Result<(), DomainError> {
        let now = self.now;
        let effects = match command {
            Command::Event(_, c) => run(&mut self.event, &c, now)?,
            Command::Inventory(_, c) => {
                let effects = run(&mut self.inventory, &c, now)?;
                if let Err(broken) = self.inventory.state.check_invariants() {
                    self.system_errors.push(format!("inventory invariant broken after {c:?}: {broken}"));
                }
                effects
            }
            Command::Reservation(id, c) => run_keyed(&mut self.reservations, id, &c, now)?,
            Command::Payment(id, c) => run_keyed(&mut self.payments, id, &c, now)?,
        };
        for effect in effects {
            match effect {
                Effect::Send(command) => self.inbox.push(command),
                Effect::Schedule { at, command } => self.timers.push((at, command)),
                Effect::Charge { payment_id, .. } => self.charges.push(payment_id),
                Effect::ReturnFunds { refund_id, amount, .. } => {
                    if self.gateway_refunds.insert(refund_id) {
                        self.gateway_refunded = self.gateway_refunded.checked_add(amount).unwrap_or(Money::ZERO);
                    }
                }
            }
        }
        Ok(())
    }

    // ---- what buyers, admins, the clock and the network do ----

    pub fn buy(
        &mut self,
        buyer: u8,
        section: &str,
        quantity: u8,
        seats: Option<Vec<SeatNumber>>,
    ) -> Option<ReservationId> {
        let details = self.event.state.details()?.clone();
        let name = SectionName::parse(section).ok()?;
        let reservation_id = ReservationId::from_uuid(self.fresh());
        let command = ReservationCommand::Initiate {
            reservation_id,
            event_id: details.event_id,
            customer_id: Self::customer(buyer),
            section: name,
            quantity: Quantity::new(i64::from(quantity)).ok()?,
            seats,
            event: EventFacts {
                status: details.status,
                date: details.date,
                section: details.section(section).cloned(),
            },
            hold_seconds: HOLD_SECONDS,
            max_held_per_customer: MAX_HELD,
        };
        self.user(Command::Reservation(reservation_id, command)).ok().map(|()| reservation_id)
    }

    pub fn pay(&mut self, reservation_id: ReservationId) {
        let payment_id = PaymentId::from_uuid(self.fresh());
        let _ = self.user(Command::Reservation(reservation_id, ReservationCommand::RequestPayment { payment_id }));
    }

    /// The gateway answers the `pick`-th outstanding charge.
    pub fn gateway_answers(&mut self, pick: usize, success: bool) {
        if self.charges.is_empty() {
            return;
        }
        let payment_id = self.charges.remove(pick % self.charges.len());
        let outcome = if success {
            if let Some(p) = self.payments.get(&payment_id).and_then(|p| p.state.details()) {
                self.gateway_captured = self.gateway_captured.checked_add(p.amount).unwrap_or(Money::ZERO);
            }
            GatewayOutcome::Captured { card_last4: card(), gateway_reference: format!("sim_{payment_id}") }
        } else {
            GatewayOutcome::Declined { card_last4: Some(card()), reason: "card_declined".into() }
        };
        self.inbox.push(Command::Payment(payment_id, PaymentCommand::RecordOutcome { outcome }));
    }

    pub fn cancel(&mut self, reservation_id: ReservationId) {
        let _ = self.user(Command::Reservation(reservation_id, ReservationCommand::Cancel));
    }

    pub fn cancel_event(&mut self) {
        let _ = self.user(Command::Event(event_id(), EventCommand::Cancel { reason: "weather".into() }));
    }

    pub fn admin_refund(&mut self, payment_id: PaymentId, cents: u64) {
        let refund_id = RefundId::from_uuid(self.fresh());
        let command = PaymentCommand::Refund {
            refund_id,
            amount: RefundAmount::Exactly(Money::from_cents(cents)),
            reason: "goodwill".into(),
        };
        let _ = self.user(Command::Payment(payment_id, command));
    }

    pub fn transfer(&mut self, reservation_id: ReservationId, ticket: TicketId, from: CustomerId, to: CustomerId) {
        let _ = self.user(Command::Reservation(
            reservation_id,
            ReservationCommand::TransferTicket { ticket_id: ticket, from, to },
        ));
    }

    /// Time passes; due timers become messages.
    pub fn advance(&mut self, seconds: i64) {
        self.now += Duration::seconds(seconds);
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|(at, _)| *at <= now);
        self.timers = later;
        self.inbox.extend(due.into_iter().map(|(_, c)| c));
    }

    pub fn deliver(&mut self, pick: usize) {
        if !self.inbox.is_empty() {
            let command = self.inbox.remove(pick % self.inbox.len());
            self.system(command);
        }
    }

    pub fn redeliver(&mut self, pick: usize) {
        if !self.delivered.is_empty() {
            let command = self.delivered[pick % self.delivered.len()].clone();
            self.system(command);
        }
    }

    /// Delivers everything outstanding (bounded: a message storm is itself a bug).
    pub fn drain(&mut self) {
        for _ in 0..100_000 {
            if self.inbox.is_empty() {
                return;
            }
            let command = self.inbox.remove(0);
            self.system(command);
        }
        self.system_errors.push("inbox never drained".into());
    }

    /// Lets every hold run out, answers every outstanding charge (successfully: the worst case for
    /// money), and delivers everything, until nothing is left to happen.
    pub fn settle(&mut self) {
        self.drain();
        self.advance(i64::from(HOLD_SECONDS) + 1);
        self.drain();
        while !self.charges.is_empty() {
            self.gateway_answers(0, true);
            self.drain();
        }
        self.advance(i64::from(HOLD_SECONDS) + 1);
        self.drain();
    }

    // ---- what the properties look at ----

    pub fn reservation_ids(&self) -> Vec<ReservationId> {
        self.reservations.keys().copied().collect()
    }

    pub fn payment_ids(&self) -> Vec<PaymentId> {
        self.payments.keys().copied().collect()
    }

    pub fn status(&self, id: ReservationId) -> Option<ReservationStatus> {
        self.reservations.get(&id).and_then(|r| r.state.status())
    }

    /// Every valid ticket's seat: no seat may appear twice, across all reservations.
    pub fn valid_ticket_seats(&self) -> Vec<(SectionName, u32)> {
        self.reservations
            .values()
            .filter_map(|r| r.state.details())
            .flat_map(|d| {
                d.tickets
                    .iter()
                    .filter(|t| t.status == TicketStatus::Valid)
                    .map(|t| (d.section.clone(), t.seat.position))
            })
            .collect()
    }

    pub fn hold_status(&self, id: ReservationId) -> Option<HoldStatus> {
        self.inventory.state.hold(id).map(|h| h.status)
    }
}

fn card() -> CardLast4 {
    CardLast4::of("4242424242424242").unwrap_or_else(|_| unreachable!())
}

fn run<A: Aggregate>(stream: &mut Stream<A>, command: &A::Command, now: Timestamp) -> Result<Vec<Effect>, DomainError> {
    let decision = stream.state.decide(command, now)?;
    for event in &decision.events {
        stream.state.apply(event);
        stream.log.push(event.clone());
    }
    Ok(decision.effects.into_vec())
}

/// Runs a command on a keyed stream; a stream exists only once it has events (a refused
/// `Initiate` leaves nothing behind, like a refused append in the store).
fn run_keyed<K: Ord + Copy, A: Aggregate>(
    streams: &mut BTreeMap<K, Stream<A>>,
    id: K,
    command: &A::Command,
    now: Timestamp,
) -> Result<Vec<Effect>, DomainError> {
    let mut stream = streams.remove(&id).unwrap_or_default();
    let result = run(&mut stream, command, now);
    if !stream.log.is_empty() {
        streams.insert(id, stream);
    }
    result
}
