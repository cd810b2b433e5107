//! The operations people start, each returning a final answer read from the write side.

use uuid::Uuid;

use super::gateway::Card;
use super::{Cause, Runtime, RuntimeError};
use crate::domain::DomainError;
use crate::domain::event::{Event, EventCommand, EventDetails, NewEvent};
use crate::domain::ids::{CustomerId, EventId, PaymentId, RefundId, ReservationId, TicketId};
use crate::domain::inventory::Inventory;
use crate::domain::payment::{Payment, PaymentCommand, PaymentDetails, RefundAmount};
use crate::domain::reducer::Command;
use crate::domain::reservation::{EventFacts, Reservation, ReservationCommand, ReservationDetails, ReservationStatus};
use crate::domain::seating::SeatNumber;
use crate::domain::values::{Quantity, SectionName, Timestamp};

/// A buyer's request for seats.
#[derive(Debug, Clone)]
pub struct ReserveRequest {
    pub event_id: EventId,
    pub section: SectionName,
    pub quantity: Quantity,
    pub seats: Option<Vec<SeatNumber>>,
    /// The reservation's id when the caller names it (derived from its idempotency key, so a
    /// retry finds the first attempt instead of holding seats again); `None`: a new one.
    pub reservation_id: Option<ReservationId>,
}

/// What the door is told about a ticket it scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Let in, now (the first scan).
    Admitted { reservation: ReservationDetails, at: Timestamp },
    /// Let in before, at `first`: a second scan of the same ticket (or a copy of it).
    AlreadyAdmitted { reservation: ReservationDetails, first: Timestamp },
    /// Not a ticket for this door: `unknown_ticket`, `another_event`, `refunded`, `transferred`.
    Invalid(&'static str),
}

/// The reservation a buyer's request with idempotency key `key` creates: the same for every
/// retry of it, on any instance.
pub fn reservation_for_key(customer: CustomerId, key: &str) -> ReservationId {
    ReservationId::derive(customer, &format!("idempotency-key/{key}"))
}

/// What a request for seats answers, given what its reservation became. Only a reservation that
/// got its seats answers with itself: the first attempt's answer may have been lost (an outage,
/// a killed instance), and its retry can find the hold already over. A hold that expired, above
/// all one that expired before the inventory ever allocated it seats (the step was delayed past
/// the hold timer), must not be told to the buyer as seats they hold.
fn hold_answer(reservation: ReservationDetails) -> Result<ReservationDetails, RuntimeError> {
    use ReservationStatus as S;
    match reservation.status {
        S::SeatsReserved | S::PaymentPending | S::Completed | S::Refunded => Ok(reservation),
        S::Rejected => Err(reservation.failure.map_or(RuntimeError::Conflict, |f| RuntimeError::Domain(f.to_error()))),
        S::Initiated => Err(RuntimeError::Unavailable("seat allocation is delayed".into())),
        S::Expired => Err(RuntimeError::Domain(DomainError::ReservationExpired)),
        S::Cancelled | S::Compensated => Err(RuntimeError::Domain(DomainError::InvalidStateTransition {
            from: reservation.status.as_str(),
            action: "hold seats again",
        })),
    }
}

impl ReserveRequest {
    /// Whether `existing` is what this request asked for (the retry of the same request).
    fn is_answered_by(&self, customer: CustomerId, existing: &ReservationDetails) -> bool {
        existing.customer_id == customer
            && existing.event_id == self.event_id
            && existing.section == self.section
            && existing.quantity == self.quantity
            && existing.requested_seats == self.seats
    }
}

impl Runtime {
    /// # Errors
    /// The event is unknown, or the store is unavailable.
    pub async fn event(&self, event_id: EventId) -> Result<EventDetails, RuntimeError> {
        let event: Event = self.state(event_id.as_uuid()).await?;
        event.details().cloned().ok_or(RuntimeError::Domain(DomainError::EventNotFound))
    }

    /// Creates an event (as a draft) and its inventory.
    ///
    /// # Errors
    /// Validation, or the store.
    pub async fn create_event(
        &self,
        cause: &Cause,
        event_id: EventId,
        event: NewEvent,
    ) -> Result<EventDetails, RuntimeError> {
        self.run(Command::Event(event_id, EventCommand::Create { event_id, event }), cause, None).await?;
        self.event(event_id).await
    }

    /// Publish, open or close sales, cancel or complete an event.
    ///
    /// # Errors
    /// An invalid transition, or the store.
    pub async fn change_event(
        &self,
        cause: &Cause,
        event_id: EventId,
        command: EventCommand,
    ) -> Result<EventDetails, RuntimeError> {
        self.run(Command::Event(event_id, command), cause, None).await?;
        self.event(event_id).await
    }

    /// Holds seats for `customer`. Answers with the held seats and total, or the reason there
    /// are none (sold out, seat taken, sales closed): never "pending".
    ///
    /// # Errors
    /// The refusal, or an unavailable store (nothing was then held: the hold and its seats are
    /// written together or not at all).
    pub async fn reserve(
        &self,
        cause: &Cause,
        customer: CustomerId,
        request: ReserveRequest,
    ) -> Result<ReservationDetails, RuntimeError> {
        // A cached view of the event is enough to go ahead: its date and prices never change,
        // and whether sales are open is decided again, atomically, by the inventory. It is not
        // enough to say no: another instance may have opened sales since this one last looked,
        // so a refusal is only given on the event as it is now.
        let id = request.event_id.as_uuid();
        let mut event: Event = self.state_cached(id).await?;
        let would_refuse = |event: &Event| {
            event.details().is_none_or(|d| {
                d.status != crate::domain::event::EventStatus::SalesOpen
                    || d.section(request.section.as_str()).is_none()
            })
        };
        if would_refuse(&event) {
            event = self.state(id).await?;
        }
        let event = event.details().cloned().ok_or(RuntimeError::Domain(DomainError::EventNotFound))?;
        let reservation_id = request.reservation_id.unwrap_or_else(|| ReservationId::from_uuid(Uuid::new_v4()));
        let facts = EventFacts {
            status: event.status,
            date: event.date,
            section: event.section(request.section.as_str()).cloned(),
        };
        let initiate = ReservationCommand::Initiate {
            reservation_id,
            event_id: request.event_id,
            customer_id: customer,
            section: request.section.clone(),
            quantity: request.quantity,
            seats: request.seats.clone(),
            event: facts,
            hold_seconds: self.config().hold_seconds,
            max_held_per_customer: self.config().max_held_per_customer,
        };
        // Almost always a stream nobody has written yet (a new id, or a new idempotency key's):
        // the inventory's writer starts it and holds its seats in one step. A retry's stream
        // exists; the append then conflicts and the answer is "already exists".
        let mut reservation = match self.start_reservation(request.event_id, reservation_id, initiate, cause).await {
            Ok((started, effects)) => {
                self.carry_out(effects, cause, None).await;
                started.details().cloned().ok_or(RuntimeError::Domain(DomainError::ReservationNotFound))?
            }
            // The same request again (a retry after a lost answer): answer with what the first
            // became. A different request under the same id is refused as a conflict.
            Err(RuntimeError::Domain(DomainError::AlreadyExists(what))) if request.reservation_id.is_some() => {
                let existing = self.reservation(reservation_id).await?;
                if !request.is_answered_by(customer, &existing) {
                    return Err(RuntimeError::Domain(DomainError::AlreadyExists(what)));
                }
                existing
            }
            Err(e) => return Err(e),
        };
        // Still waiting for its seats: a step left to the worker (perhaps another instance's,
        // for a retry), worth a fresh read.
        if reservation.status == ReservationStatus::Initiated {
            reservation = self.reservation(reservation_id).await?;
        }
        hold_answer(reservation)
    }

    /// Pays for a held reservation with `card`. The answer is the reservation afterwards:
    /// `completed` with tickets, `compensated` (declined, seats released) or `expired`.
    ///
    /// # Errors
    /// The refusal (expired, wrong state), or an unavailable store or gateway (the charge is then
    /// reconciled by the worker; nothing is charged twice).
    pub async fn pay(
        &self,
        cause: &Cause,
        reservation_id: ReservationId,
        card: &Card,
    ) -> Result<ReservationDetails, RuntimeError> {
        // One payment per reservation, its id derived from the reservation's: a retry (after an
        // answer that never came, or a step that failed half-way) continues that payment with the
        // card it brings, instead of starting another that the reservation would refuse while
        // the first, cardless, is reconciled and voided.
        let payment_id = Self::payment_of(reservation_id);
        let request = ReservationCommand::RequestPayment { payment_id };
        self.run(Command::Reservation(reservation_id, request), cause, Some(card)).await?;
        let reservation = self.reservation(reservation_id).await?;
        if reservation.status == ReservationStatus::PaymentPending && reservation.payment_id == Some(payment_id) {
            self.resume_payment(cause, &reservation, payment_id, card).await?;
            return self.reservation(reservation_id).await;
        }
        Ok(reservation)
    }

    /// The id of a reservation's payment.
    pub fn payment_of(reservation_id: ReservationId) -> PaymentId {
        PaymentId::derive(reservation_id, "payment")
    }

    /// Carries a payment that stopped half-way to its outcome with `card`: its start (if the step
    /// that should have started it failed) and its charge (if it never reached the gateway).
    /// Both are idempotent: the start at the payment stream, the charge at the gateway.
    async fn resume_payment(
        &self,
        cause: &Cause,
        reservation: &ReservationDetails,
        payment_id: PaymentId,
        card: &Card,
    ) -> Result<(), RuntimeError> {
        let start = PaymentCommand::Start {
            payment_id,
            reservation_id: reservation.reservation_id,
            customer_id: reservation.customer_id,
            amount: reservation.total,
        };
        let started = self.execute(Command::Payment(payment_id, start), None, cause).await?;
        self.carry_out(started, cause, Some(card)).await;
        let stream = crate::store::stream_id::<Payment>(payment_id.as_uuid());
        if let Some(row) = crate::store::effects::pending_charge(self.store().pool(), &stream).await? {
            let charge = crate::domain::reducer::Effect::Charge { payment_id, amount: reservation.total };
            self.carry_out(vec![super::PendingEffect { id: row, effect: charge }], cause, Some(card)).await;
        }
        Ok(())
    }

    /// Cancels a reservation for its buyer: releases a hold, or refunds a paid one by policy.
    ///
    /// # Errors
    /// The refusal, or the store.
    pub async fn cancel_reservation(
        &self,
        cause: &Cause,
        reservation_id: ReservationId,
    ) -> Result<ReservationDetails, RuntimeError> {
        self.run(Command::Reservation(reservation_id, ReservationCommand::Cancel), cause, None).await?;
        self.reservation(reservation_id).await
    }

    /// Gives a ticket to another user.
    ///
    /// # Errors
    /// The refusal, or the store.
    pub async fn transfer_ticket(
        &self,
        cause: &Cause,
        reservation_id: ReservationId,
        ticket_id: TicketId,
        from: CustomerId,
        to: CustomerId,
    ) -> Result<ReservationDetails, RuntimeError> {
        let command = ReservationCommand::TransferTicket { ticket_id, from, to };
        self.run(Command::Reservation(reservation_id, command), cause, None).await?;
        self.reservation(reservation_id).await
    }

    /// An admin's refund of part or all of a payment.
    ///
    /// # Errors
    /// The refusal, or the store.
    pub async fn refund_payment(
        &self,
        cause: &Cause,
        payment_id: PaymentId,
        amount: RefundAmount,
        reason: String,
    ) -> Result<PaymentDetails, RuntimeError> {
        let refund_id = RefundId::from_uuid(Uuid::new_v4());
        self.run(Command::Payment(payment_id, PaymentCommand::Refund { refund_id, amount, reason }), cause, None)
            .await?;
        self.payment(payment_id).await
    }

    /// Lets a ticket in at the door of `event_id`, if it may: its holder (the owner its code
    /// names, by tag) must still own it, it must not be refunded, and only the first scan admits.
    /// Two scanners scanning the same ticket at once: the reservation's stream takes one
    /// check-in, the other is told it was already let in.
    ///
    /// # Errors
    /// The store.
    pub async fn check_in(
        &self,
        cause: &Cause,
        event_id: EventId,
        ticket_id: TicketId,
        holder_tag: [u8; 8],
        at: Timestamp,
    ) -> Result<Admission, RuntimeError> {
        let Some(reservation_id) = self.reservation_of_ticket(ticket_id).await? else {
            return Ok(Admission::Invalid("unknown_ticket"));
        };
        let reservation = self.reservation(reservation_id).await?;
        if reservation.event_id != event_id {
            return Ok(Admission::Invalid("another_event"));
        }
        let Some(ticket) = reservation.tickets.iter().find(|t| t.ticket_id == ticket_id) else {
            return Ok(Admission::Invalid("unknown_ticket"));
        };
        if crate::ticket_codes::owner_tag(ticket.owner.as_uuid()) != holder_tag {
            return Ok(Admission::Invalid("transferred"));
        }
        let command = ReservationCommand::CheckIn { ticket_id, holder: ticket.owner, at };
        match self.run(Command::Reservation(reservation_id, command), cause, None).await {
            Ok(()) => {
                let reservation = self.reservation(reservation_id).await?;
                let at = reservation.checked_in.get(&ticket_id).copied().unwrap_or(at);
                Ok(Admission::Admitted { reservation, at })
            }
            Err(RuntimeError::Domain(DomainError::AlreadyCheckedIn { at: first })) => {
                Ok(Admission::AlreadyAdmitted { reservation, first })
            }
            Err(RuntimeError::Domain(DomainError::NotAdmissible(reason))) => Ok(Admission::Invalid(reason)),
            Err(RuntimeError::Domain(DomainError::TicketNotFound)) => Ok(Admission::Invalid("unknown_ticket")),
            Err(other) => Err(other),
        }
    }

    /// The reservation that issued `ticket`, found on the write side.
    ///
    /// # Errors
    /// The store.
    pub async fn reservation_of_ticket(&self, ticket: TicketId) -> Result<Option<ReservationId>, RuntimeError> {
        let stream = self.store().find_stream(crate::store::codec::TICKET_LOOKUP, ticket.as_uuid()).await?;
        Ok(stream
            .as_deref()
            .and_then(|s| s.strip_prefix("reservation-"))
            .and_then(|id| id.parse::<Uuid>().ok())
            .map(ReservationId::from_uuid))
    }

    /// # Errors
    /// Unknown reservation, or the store.
    pub async fn reservation(&self, id: ReservationId) -> Result<ReservationDetails, RuntimeError> {
        let state: Reservation = self.state(id.as_uuid()).await?;
        state.details().cloned().ok_or(RuntimeError::Domain(DomainError::ReservationNotFound))
    }

    /// # Errors
    /// Unknown payment, or the store.
    pub async fn payment(&self, id: PaymentId) -> Result<PaymentDetails, RuntimeError> {
        let state: Payment = self.state(id.as_uuid()).await?;
        state.details().cloned().ok_or(RuntimeError::Domain(DomainError::PaymentNotFound))
    }

    /// The exact seat state of an event (the "can I still buy?" read).
    ///
    /// # Errors
    /// The store.
    pub async fn inventory(&self, event_id: EventId) -> Result<Inventory, RuntimeError> {
        self.state(event_id.as_uuid()).await
    }
}
