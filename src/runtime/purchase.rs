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
use crate::domain::values::{Quantity, SectionName};

/// A buyer's request for seats.
#[derive(Debug, Clone)]
pub struct ReserveRequest {
    pub event_id: EventId,
    pub section: SectionName,
    pub quantity: Quantity,
    pub seats: Option<Vec<SeatNumber>>,
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
    /// The refusal, or an unavailable store (the hold may then still complete in the background,
    /// and expires like any other).
    pub async fn reserve(
        &self,
        cause: &Cause,
        customer: CustomerId,
        request: ReserveRequest,
    ) -> Result<ReservationDetails, RuntimeError> {
        // A cached view of the event is enough: its date and prices never change, and whether
        // sales are open is decided again, atomically, by the inventory.
        let event: Event = self.state_cached(request.event_id.as_uuid()).await?;
        let event = event.details().cloned().ok_or(RuntimeError::Domain(DomainError::EventNotFound))?;
        let reservation_id = ReservationId::from_uuid(Uuid::new_v4());
        let facts = EventFacts {
            status: event.status,
            date: event.date,
            section: event.section(request.section.as_str()).cloned(),
        };
        let initiate = ReservationCommand::Initiate {
            reservation_id,
            event_id: request.event_id,
            customer_id: customer,
            section: request.section,
            quantity: request.quantity,
            seats: request.seats,
            event: facts,
            hold_seconds: self.config().hold_seconds,
        };
        self.run(Command::Reservation(reservation_id, initiate), cause, None).await?;
        let reservation = self.reservation(reservation_id).await?;
        match reservation.status {
            ReservationStatus::Rejected => {
                Err(reservation.failure.map_or(RuntimeError::Conflict, |f| RuntimeError::Domain(f.to_error())))
            }
            ReservationStatus::Initiated => Err(RuntimeError::Unavailable("seat allocation is delayed".into())),
            _ => Ok(reservation),
        }
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
        let payment_id = PaymentId::from_uuid(Uuid::new_v4());
        let request = ReservationCommand::RequestPayment { payment_id };
        self.run(Command::Reservation(reservation_id, request), cause, Some(card)).await?;
        self.reservation(reservation_id).await
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
