//! The Reservation saga: one purchase from "hold these seats" to tickets, or to its end.
//!
//! It coordinates the other aggregates only through effects: it asks the inventory for seats,
//! schedules its own expiry, asks the payment aggregate to charge and refund, and tells the
//! inventory to sell, release or take back seats. Every message it receives may arrive twice or
//! late; the rules below make that harmless.
//!
//! Decisions where the brief is silent:
//! - **Late payment.** A capture reported for a reservation that is no longer waiting for that
//!   payment (expired, cancelled, compensated, or already paid by another payment) is refunded in
//!   full at once: nobody is charged for seats they do not get.
//! - **Seats for a finished reservation.** If the inventory's seats arrive after the saga ended
//!   (expired before the answer came), they are released immediately.
//! - **Cancelling a paid reservation** follows [`RefundShare::for_customer`]; under 3 days before
//!   the start it is refused (`CANCELLATION_WINDOW_CLOSED`) and the tickets stay valid.
//! - **Transferred tickets.** Once a ticket has changed hands the buyer can no longer cancel the
//!   reservation (that would void someone else's ticket); an organiser cancellation still refunds
//!   the buyer, who paid, and voids all its tickets.
//! - **Refunded tickets** are void and cannot be transferred.
//! - **Cancelling while the card is being charged** is refused: the outcome is moments away.

pub mod machine;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::event::EventStatus;
use super::ids::{CustomerId, EventId, Id, PaymentId, RefundId, ReservationId, TicketId};
use super::inventory::{AllocationFailure, InventoryCommand, SeatAssignment};
use super::money::Money;
use super::payment::{PaymentCommand, RefundAmount};
use super::policy::{PriceTier, RefundShare, transfer_allowed};
use super::reducer::{Aggregate, Command, Decision, Effect};
use super::seating::{SeatNumber, SectionSpec};
use super::values::{EventDate, Quantity, SectionName, Timestamp};
pub use machine::{ReservationStatus, Trigger};

/// Holds last between 1 second and 1 hour (default 300 s, from `RESERVATION_TTL_SECONDS`).
pub const MAX_HOLD_SECONDS: u32 = 3_600;

/// What the runtime read from the Event aggregate when the buyer asked: outside data enters
/// through the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFacts {
    pub status: EventStatus,
    pub date: EventDate,
    /// The requested section's definition, or `None` if the event has no such section.
    pub section: Option<SectionSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationCommand {
    Initiate {
        reservation_id: ReservationId,
        event_id: EventId,
        customer_id: CustomerId,
        section: SectionName,
        quantity: Quantity,
        seats: Option<Vec<SeatNumber>>,
        event: EventFacts,
        hold_seconds: u32,
        /// Unpaid seats one customer may hold in one event (`MAX_HELD_SEATS_PER_CUSTOMER`).
        max_held_per_customer: u8,
    },
    /// The inventory's answer: these seats are held for us.
    SeatsAllocated {
        seats: Vec<SeatAssignment>,
    },
    /// The inventory's answer: no seats.
    AllocationFailed {
        failure: AllocationFailure,
    },
    /// The buyer pays; `payment_id` is chosen by the caller (it is the gateway's idempotency key).
    RequestPayment {
        payment_id: PaymentId,
    },
    PaymentSucceeded {
        payment_id: PaymentId,
        amount: Money,
    },
    PaymentFailed {
        payment_id: PaymentId,
        reason: String,
    },
    /// The hold's timer fired.
    Expire,
    /// The buyer cancels.
    Cancel,
    /// The organiser cancelled the event.
    EventCancelled,
    /// The payment aggregate refunded money of a payment of ours.
    RecordRefund {
        refund_id: RefundId,
        payment_id: PaymentId,
        amount: Money,
    },
    TransferTicket {
        ticket_id: TicketId,
        from: CustomerId,
        to: CustomerId,
    },
    /// A ticket scanned at the door at `at` (perhaps earlier than now: scanned offline and
    /// synced later), presented by its `holder` (the owner its code names).
    CheckIn {
        ticket_id: TicketId,
        holder: CustomerId,
        at: Timestamp,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketStatus {
    Valid,
    Void,
}

impl TicketStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Void => "void",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub ticket_id: TicketId,
    pub seat: SeatAssignment,
    pub owner: CustomerId,
    pub status: TicketStatus,
}

/// Why a reservation ended without seats, when it was not the buyer's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelledBy {
    Customer,
    Organiser,
    /// An admin refunded every cent of the order (`POST /api/payments/{id}/refund`).
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationEvent {
    Initiated {
        reservation_id: ReservationId,
        event_id: EventId,
        customer_id: CustomerId,
        section: SectionName,
        quantity: Quantity,
        requested_seats: Option<Vec<SeatNumber>>,
        event_date: EventDate,
        base_price: Money,
        at: Timestamp,
        expires_at: Timestamp,
    },
    SeatsAllocated {
        seats: Vec<SeatAssignment>,
        tier: PriceTier,
        unit_price: Money,
        total: Money,
        at: Timestamp,
    },
    AllocationRejected {
        failure: AllocationFailure,
        at: Timestamp,
    },
    PaymentRequested {
        payment_id: PaymentId,
        amount: Money,
        at: Timestamp,
    },
    Completed {
        payment_id: PaymentId,
        captured: Money,
        tickets: Vec<Ticket>,
        at: Timestamp,
    },
    PaymentFailed {
        payment_id: PaymentId,
        reason: String,
        at: Timestamp,
    },
    Expired {
        at: Timestamp,
    },
    Cancelled {
        by: CancelledBy,
        at: Timestamp,
    },
    /// A paid reservation was given back; `amount` is what the policy says the buyer gets back
    /// in all (earlier refunds count towards it; the payment pays only the difference).
    Refunded {
        refund_id: RefundId,
        amount: Money,
        share: RefundShare,
        by: CancelledBy,
        at: Timestamp,
    },
    /// A capture arrived when nothing was waiting for it; it is refunded in full.
    LatePaymentRefunded {
        payment_id: PaymentId,
        refund_id: RefundId,
        amount: Money,
        at: Timestamp,
    },
    RefundRecorded {
        refund_id: RefundId,
        /// Which payment the money came back from (the paid one, or a late one).
        payment_id: PaymentId,
        amount: Money,
    },
    TicketTransferred {
        ticket_id: TicketId,
        from: CustomerId,
        to: CustomerId,
        at: Timestamp,
    },
    /// The ticket was let in at the door; it cannot be let in again.
    TicketCheckedIn {
        ticket_id: TicketId,
        at: Timestamp,
    },
}

impl ReservationEvent {
    /// The state-machine trigger this fact represents, if it moves the saga.
    pub const fn trigger(&self) -> Option<Trigger> {
        match self {
            Self::SeatsAllocated { .. } => Some(Trigger::SeatsAllocated),
            Self::AllocationRejected { .. } => Some(Trigger::AllocationFailed),
            Self::PaymentRequested { .. } => Some(Trigger::PaymentRequested),
            Self::Completed { .. } => Some(Trigger::PaymentSucceeded),
            Self::PaymentFailed { .. } => Some(Trigger::PaymentFailed),
            Self::Expired { .. } => Some(Trigger::Expire),
            Self::Cancelled { by: CancelledBy::Customer | CancelledBy::Admin, .. }
            | Self::Refunded { by: CancelledBy::Customer | CancelledBy::Admin, .. } => Some(Trigger::Cancel),
            Self::Cancelled { by: CancelledBy::Organiser, .. } | Self::Refunded { by: CancelledBy::Organiser, .. } => {
                Some(Trigger::EventCancelled)
            }
            Self::Initiated { .. }
            | Self::LatePaymentRefunded { .. }
            | Self::RefundRecorded { .. }
            | Self::TicketTransferred { .. }
            | Self::TicketCheckedIn { .. } => None,
        }
    }
}

/// A reservation as its history defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationDetails {
    pub reservation_id: ReservationId,
    pub event_id: EventId,
    pub customer_id: CustomerId,
    pub section: SectionName,
    pub quantity: Quantity,
    pub requested_seats: Option<Vec<SeatNumber>>,
    pub event_date: EventDate,
    pub base_price: Money,
    pub status: ReservationStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub seats: Vec<SeatAssignment>,
    pub tier: Option<PriceTier>,
    pub total: Money,
    pub payment_id: Option<PaymentId>,
    pub tickets: Vec<Ticket>,
    pub failure: Option<AllocationFailure>,
    pub payment_failure: Option<String>,
    /// Every payment this reservation has seen captured (the paid one and any late ones).
    pub captured: Money,
    /// Money returned so far, as confirmed by the payment aggregate.
    pub refunded: Money,
    refunds_seen: BTreeSet<RefundId>,
    payments_seen: BTreeSet<PaymentId>,
    /// When each ticket was first let in.
    pub checked_in: BTreeMap<TicketId, Timestamp>,
}

impl ReservationDetails {
    /// What the platform keeps from this reservation: captured minus refunded.
    pub fn net_revenue(&self) -> Money {
        self.captured.saturating_sub(self.refunded)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    details: Option<ReservationDetails>,
}

fn refuse(from: ReservationStatus, action: &'static str) -> DomainError {
    DomainError::InvalidStateTransition { from: from.as_str(), action }
}

impl Reservation {
    pub fn details(&self) -> Option<&ReservationDetails> {
        self.details.as_ref()
    }

    pub fn status(&self) -> Option<ReservationStatus> {
        self.details.as_ref().map(|d| d.status)
    }

    #[allow(clippy::too_many_arguments)]
    fn initiate(
        reservation_id: ReservationId,
        event_id: EventId,
        customer_id: CustomerId,
        section: &SectionName,
        quantity: Quantity,
        seats: Option<&Vec<SeatNumber>>,
        event: &EventFacts,
        (hold_seconds, max_held): (u32, u8),
        now: Timestamp,
    ) -> Result<Decision<ReservationEvent>, DomainError> {
        match event.status {
            EventStatus::SalesOpen => {}
            EventStatus::Cancelled => return Err(DomainError::EventCancelled),
            _ => return Err(DomainError::SalesNotOpen),
        }
        let spec = event
            .section
            .as_ref()
            .filter(|s| s.name == *section)
            .ok_or_else(|| DomainError::SectionNotFound { section: section.to_string() })?;
        if let Some(wanted) = seats {
            if !spec.layout.is_numbered() {
                return Err(DomainError::validation("specific_seats", "seats can only be chosen in numbered sections"));
            }
            if wanted.len() != usize::from(quantity.get()) {
                return Err(DomainError::validation("specific_seats", "the number of seats must equal the quantity"));
            }
            let distinct: BTreeSet<_> = wanted.iter().collect();
            if distinct.len() != wanted.len() {
                return Err(DomainError::validation("specific_seats", "a seat is listed twice"));
            }
            let missing: Vec<String> =
                wanted.iter().filter(|s| spec.layout.position(**s).is_none()).map(ToString::to_string).collect();
            if !missing.is_empty() {
                return Err(DomainError::SeatUnavailable { seats: missing });
            }
        }
        if !(1..=MAX_HOLD_SECONDS).contains(&hold_seconds) {
            return Err(DomainError::validation("hold_seconds", format!("must be between 1 and {MAX_HOLD_SECONDS}")));
        }
        let expires_at = now + Duration::seconds(i64::from(hold_seconds));
        Ok(Decision::event(ReservationEvent::Initiated {
            reservation_id,
            event_id,
            customer_id,
            section: section.clone(),
            quantity,
            requested_seats: seats.cloned(),
            event_date: event.date,
            base_price: spec.base_price,
            at: now,
            expires_at,
        })
        .with(Effect::Send(Command::Inventory(
            event_id,
            InventoryCommand::Reserve {
                reservation_id,
                customer_id,
                max_held,
                section: section.clone(),
                quantity,
                seats: seats.cloned(),
            },
        )))
        .with(Effect::Schedule {
            at: expires_at,
            command: Command::Reservation(reservation_id, ReservationCommand::Expire),
        }))
    }
}

/// The effects of one reservation's decisions, with its ids filled in.
struct To<'a>(&'a ReservationDetails);

impl To<'_> {
    fn inventory(&self, command: InventoryCommand) -> Effect {
        Effect::Send(Command::Inventory(self.0.event_id, command))
    }
    fn release(&self) -> Effect {
        self.inventory(InventoryCommand::Release { reservation_id: self.0.reservation_id })
    }
    fn refund(payment_id: PaymentId, refund_id: RefundId, amount: RefundAmount, reason: &str) -> Effect {
        Effect::Send(Command::Payment(
            payment_id,
            PaymentCommand::Refund { refund_id, amount, reason: reason.to_owned() },
        ))
    }
}

impl Aggregate for Reservation {
    type Command = ReservationCommand;
    type Event = ReservationEvent;

    // One arm per command (and per duplicate case) reads better than merged arms or helpers.
    #[allow(clippy::too_many_lines, clippy::match_same_arms)]
    fn decide(&self, command: &ReservationCommand, now: Timestamp) -> Result<Decision<ReservationEvent>, DomainError> {
        use ReservationCommand as C;
        use ReservationEvent as E;
        use ReservationStatus as S;
        let Some(r) = &self.details else {
            return match command {
                C::Initiate {
                    reservation_id,
                    event_id,
                    customer_id,
                    section,
                    quantity,
                    seats,
                    event,
                    hold_seconds,
                    max_held_per_customer,
                } => Self::initiate(
                    *reservation_id,
                    *event_id,
                    *customer_id,
                    section,
                    *quantity,
                    seats.as_ref(),
                    event,
                    (*hold_seconds, *max_held_per_customer),
                    now,
                ),
                _ => Err(DomainError::ReservationNotFound),
            };
        };
        let to = To(r);
        let status = r.status;
        let can = |trigger| machine::next(status, trigger).is_some();
        Ok(match command {
            C::Initiate { .. } => return Err(DomainError::AlreadyExists("reservation")),

            C::SeatsAllocated { seats } if can(Trigger::SeatsAllocated) => {
                let tier = PriceTier::at(r.event_date, now);
                let overflow = || DomainError::validation("total", "price overflow");
                let unit_price = tier.unit_price(r.base_price).ok_or_else(overflow)?;
                let total = unit_price.checked_mul(seats.len() as u64).ok_or_else(overflow)?;
                Decision::event(E::SeatsAllocated { seats: seats.clone(), tier, unit_price, total, at: now })
            }
            // Seats for a saga that already ended: give them straight back.
            C::SeatsAllocated { .. } if matches!(status, S::Expired | S::Cancelled | S::Rejected) => {
                Decision::nothing().with(to.release())
            }
            C::SeatsAllocated { .. } => Decision::nothing(),

            C::AllocationFailed { failure } if can(Trigger::AllocationFailed) => {
                Decision::event(E::AllocationRejected { failure: failure.clone(), at: now })
            }
            C::AllocationFailed { .. } => Decision::nothing(),

            C::RequestPayment { payment_id } => match status {
                S::SeatsReserved if now >= r.expires_at => return Err(DomainError::ReservationExpired),
                S::SeatsReserved => {
                    Decision::event(E::PaymentRequested { payment_id: *payment_id, amount: r.total, at: now }).with(
                        Effect::Send(Command::Payment(
                            *payment_id,
                            PaymentCommand::Start {
                                payment_id: *payment_id,
                                reservation_id: r.reservation_id,
                                customer_id: r.customer_id,
                                amount: r.total,
                            },
                        )),
                    )
                }
                S::PaymentPending if r.payment_id == Some(*payment_id) => Decision::nothing(),
                S::Expired => return Err(DomainError::ReservationExpired),
                S::Initiated => return Err(refuse(status, "pay (seats not allocated yet)")),
                other => return Err(refuse(other, "pay")),
            },

            C::PaymentSucceeded { payment_id, amount } => {
                if status == S::PaymentPending && r.payment_id == Some(*payment_id) {
                    let tickets = r
                        .seats
                        .iter()
                        .map(|seat| Ticket {
                            ticket_id: Id::derive(r.reservation_id, &format!("ticket/{}", seat.position)),
                            seat: *seat,
                            owner: r.customer_id,
                            status: TicketStatus::Valid,
                        })
                        .collect();
                    Decision::event(E::Completed { payment_id: *payment_id, captured: *amount, tickets, at: now })
                        .with(to.inventory(InventoryCommand::Confirm { reservation_id: r.reservation_id }))
                } else if r.payments_seen.contains(payment_id) {
                    Decision::nothing()
                } else {
                    let refund_id = Id::derive(*payment_id, "late-payment");
                    Decision::event(E::LatePaymentRefunded {
                        payment_id: *payment_id,
                        refund_id,
                        amount: *amount,
                        at: now,
                    })
                    .with(To::refund(
                        *payment_id,
                        refund_id,
                        RefundAmount::UpTo(*amount),
                        "payment arrived after the reservation ended",
                    ))
                }
            }

            C::PaymentFailed { payment_id, reason }
                if status == S::PaymentPending && r.payment_id == Some(*payment_id) =>
            {
                Decision::event(E::PaymentFailed { payment_id: *payment_id, reason: reason.clone(), at: now })
                    .with(to.release())
            }
            C::PaymentFailed { .. } => Decision::nothing(),

            C::Expire if !can(Trigger::Expire) => Decision::nothing(),
            // A timer that fired early (clock skew between instances) is simply set again.
            C::Expire if now < r.expires_at => Decision::nothing().with(Effect::Schedule {
                at: r.expires_at,
                command: Command::Reservation(r.reservation_id, C::Expire),
            }),
            C::Expire => Decision::event(E::Expired { at: now }).with(to.release()),

            C::Cancel => match status {
                S::Initiated | S::SeatsReserved => {
                    Decision::event(E::Cancelled { by: CancelledBy::Customer, at: now }).with(to.release())
                }
                S::Completed => {
                    if r.tickets.iter().any(|t| t.owner != r.customer_id) {
                        return Err(DomainError::InvalidStateTransition {
                            from: "tickets transferred",
                            action: "cancel",
                        });
                    }
                    let share = RefundShare::for_customer(r.event_date, now);
                    let amount = share.refund_of(r.total).ok_or(DomainError::CancellationWindowClosed(
                        "paid reservations cannot be cancelled within 3 days of the event",
                    ))?;
                    refund(
                        r,
                        Id::derive(r.reservation_id, "customer-cancel"),
                        amount,
                        share,
                        CancelledBy::Customer,
                        now,
                    )
                }
                other => return Err(refuse(other, "cancel")),
            },

            C::EventCancelled => match status {
                S::Initiated | S::SeatsReserved | S::PaymentPending => {
                    Decision::event(E::Cancelled { by: CancelledBy::Organiser, at: now }).with(to.release())
                }
                S::Completed => refund(
                    r,
                    Id::derive(r.reservation_id, "event-cancelled"),
                    r.total,
                    RefundShare::Full,
                    CancelledBy::Organiser,
                    now,
                ),
                _ => Decision::nothing(),
            },

            C::RecordRefund { refund_id, .. } if r.refunds_seen.contains(refund_id) => Decision::nothing(),
            C::RecordRefund { refund_id, payment_id, amount } => {
                let recorded = E::RefundRecorded { refund_id: *refund_id, payment_id: *payment_id, amount: *amount };
                // Every cent back (an admin's full refund, or the last part of one) undoes the
                // sale: the tickets are void and the seats go back on sale. A partial refund is a
                // goodwill gesture and keeps the tickets.
                let refunded = r.refunded.checked_add(*amount).unwrap_or(r.refunded);
                if status == S::Completed && !r.captured.is_zero() && refunded >= r.captured {
                    let mut decision = Decision::event(recorded)
                        .with(to.inventory(InventoryCommand::ReturnSold { reservation_id: r.reservation_id }));
                    decision.events.push(E::Refunded {
                        refund_id: *refund_id,
                        amount: refunded,
                        share: RefundShare::Full,
                        by: CancelledBy::Admin,
                        at: now,
                    });
                    decision
                } else {
                    Decision::event(recorded)
                }
            }

            C::TransferTicket { ticket_id, from, to: recipient } => {
                let ticket = r
                    .tickets
                    .iter()
                    .find(|t| t.ticket_id == *ticket_id && t.owner == *from)
                    .ok_or(DomainError::TicketNotFound)?;
                if ticket.status == TicketStatus::Void {
                    return Err(DomainError::InvalidStateTransition { from: "void", action: "transfer" });
                }
                if from == recipient {
                    return Err(DomainError::validation("to_email", "the ticket already belongs to this user"));
                }
                if !transfer_allowed(r.event_date, now) {
                    return Err(DomainError::TransferWindowClosed);
                }
                Decision::event(E::TicketTransferred { ticket_id: *ticket_id, from: *from, to: *recipient, at: now })
            }

            C::CheckIn { ticket_id, holder, at } => {
                let ticket = r.tickets.iter().find(|t| t.ticket_id == *ticket_id).ok_or(DomainError::TicketNotFound)?;
                if ticket.status == TicketStatus::Void {
                    return Err(DomainError::NotAdmissible("refunded"));
                }
                if ticket.owner != *holder {
                    return Err(DomainError::NotAdmissible("transferred"));
                }
                if let Some(first) = r.checked_in.get(ticket_id) {
                    return Err(DomainError::AlreadyCheckedIn { at: *first });
                }
                // Never later than now, and never before the ticket existed.
                let at = (*at).min(now);
                Decision::event(E::TicketCheckedIn { ticket_id: *ticket_id, at })
            }
        })
    }

    fn apply(&mut self, event: &ReservationEvent) {
        use ReservationEvent as E;
        if let E::Initiated {
            reservation_id,
            event_id,
            customer_id,
            section,
            quantity,
            requested_seats,
            event_date,
            base_price,
            at,
            expires_at,
        } = event
        {
            self.details = Some(ReservationDetails {
                reservation_id: *reservation_id,
                event_id: *event_id,
                customer_id: *customer_id,
                section: section.clone(),
                quantity: *quantity,
                requested_seats: requested_seats.clone(),
                event_date: *event_date,
                base_price: *base_price,
                status: ReservationStatus::Initiated,
                created_at: *at,
                expires_at: *expires_at,
                seats: Vec::new(),
                tier: None,
                total: Money::ZERO,
                payment_id: None,
                tickets: Vec::new(),
                failure: None,
                payment_failure: None,
                captured: Money::ZERO,
                refunded: Money::ZERO,
                refunds_seen: BTreeSet::new(),
                payments_seen: BTreeSet::new(),
                checked_in: BTreeMap::new(),
            });
            return;
        }
        let Some(r) = self.details.as_mut() else { return };
        if let Some(to) = event.trigger().and_then(|t| machine::next(r.status, t)) {
            r.status = to;
        }
        match event {
            E::Initiated { .. } | E::Expired { .. } | E::Cancelled { .. } => {}
            E::SeatsAllocated { seats, tier, total, .. } => {
                r.seats.clone_from(seats);
                r.tier = Some(*tier);
                r.total = *total;
            }
            E::AllocationRejected { failure, .. } => r.failure = Some(failure.clone()),
            E::PaymentRequested { payment_id, .. } => r.payment_id = Some(*payment_id),
            E::Completed { payment_id, captured, tickets, .. } => {
                r.payments_seen.insert(*payment_id);
                r.captured = r.captured.checked_add(*captured).unwrap_or(r.captured);
                r.tickets.clone_from(tickets);
            }
            E::PaymentFailed { reason, .. } => r.payment_failure = Some(reason.clone()),
            E::Refunded { .. } => {
                for ticket in &mut r.tickets {
                    ticket.status = TicketStatus::Void;
                }
            }
            E::LatePaymentRefunded { payment_id, amount, .. } => {
                r.payments_seen.insert(*payment_id);
                r.captured = r.captured.checked_add(*amount).unwrap_or(r.captured);
            }
            E::RefundRecorded { refund_id, amount, .. } => {
                r.refunds_seen.insert(*refund_id);
                r.refunded = r.refunded.checked_add(*amount).unwrap_or(r.refunded);
            }
            E::TicketCheckedIn { ticket_id, at } => {
                r.checked_in.entry(*ticket_id).or_insert(*at);
            }
            E::TicketTransferred { ticket_id, to, .. } => {
                if let Some(ticket) = r.tickets.iter_mut().find(|t| t.ticket_id == *ticket_id) {
                    ticket.owner = *to;
                }
            }
        }
    }
}

/// A paid reservation is given back: the buyer gets the policy's `amount` back in all, and its
/// seats go back on sale. What was refunded already (an admin's goodwill refund, perhaps one
/// this reservation has not heard of yet) counts towards it: the payment, which knows the real
/// total, tops it up to `amount` and no further.
fn refund(
    r: &ReservationDetails,
    refund_id: RefundId,
    amount: Money,
    share: RefundShare,
    by: CancelledBy,
    now: Timestamp,
) -> Decision<ReservationEvent> {
    let to = To(r);
    let mut decision = Decision::event(ReservationEvent::Refunded { refund_id, amount, share, by, at: now })
        .with(to.inventory(InventoryCommand::ReturnSold { reservation_id: r.reservation_id }));
    if let (Some(payment_id), false) = (r.payment_id, amount.is_zero()) {
        let reason = match by {
            CancelledBy::Customer => "cancelled by the customer",
            CancelledBy::Organiser => "event cancelled by the organiser",
            CancelledBy::Admin => "refunded by an admin",
        };
        decision = decision.with(To::refund(payment_id, refund_id, RefundAmount::TopUpTo(amount), reason));
    }
    decision
}
