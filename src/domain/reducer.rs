//! The shape every aggregate shares: decide events from (state, command, now) or refuse with a
//! [`DomainError`]; ask for effects as values; change state only by folding events in `apply`.
//!
//! The runtime owns everything impure: it reads the clock, loads state, appends the decided events
//! and carries out the effects (durably, in the same transaction as the events that asked).

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::error::DomainError;
use super::event::EventCommand;
use super::ids::{EventId, PaymentId, RefundId, ReservationId};
use super::inventory::InventoryCommand;
use super::money::Money;
use super::payment::PaymentCommand;
use super::reservation::ReservationCommand;
use super::values::Timestamp;

/// Most decisions produce one or two events and at most a few effects: keep them on the stack.
pub type Events<E> = SmallVec<[E; 4]>;
pub type Effects = SmallVec<[Effect; 4]>;

/// What a command decided: the facts to record and what must happen because of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<E> {
    pub events: Events<E>,
    pub effects: Effects,
}

impl<E> Decision<E> {
    /// Nothing to record, nothing to do: how duplicate and late messages are answered.
    pub fn nothing() -> Self {
        Self { events: SmallVec::new(), effects: SmallVec::new() }
    }

    pub fn event(event: E) -> Self {
        let mut events = SmallVec::new();
        events.push(event);
        Self { events, effects: SmallVec::new() }
    }

    #[must_use]
    pub fn with(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.effects.is_empty()
    }
}

/// An event-sourced aggregate: its state is the fold of its events.
pub trait Aggregate: Default + Clone + std::fmt::Debug + Send + Sync + 'static {
    type Command: std::fmt::Debug + Send + Sync + 'static;
    /// Events are stored, so they serialize.
    type Event: Clone + std::fmt::Debug + Serialize + serde::de::DeserializeOwned + Send + Sync + 'static;

    /// Decides what `command` means for the current state at instant `now`. Pure: the same
    /// state, command and instant always give the same decision.
    ///
    /// # Errors
    /// A [`DomainError`] when a business rule refuses the command.
    fn decide(&self, command: &Self::Command, now: Timestamp) -> Result<Decision<Self::Event>, DomainError>;

    /// Folds one recorded event into the state. Never fails and never decides anything: an event
    /// is a fact that already happened.
    fn apply(&mut self, event: &Self::Event);

    /// The state after `events`, from empty.
    fn replay<'a, I>(events: I) -> Self
    where
        I: IntoIterator<Item = &'a Self::Event>,
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }

    /// Decides and applies in one step (for tests and in-memory callers).
    ///
    /// # Errors
    /// Whatever [`Aggregate::decide`] refuses.
    fn execute(&mut self, command: &Self::Command, now: Timestamp) -> Result<Decision<Self::Event>, DomainError> {
        let decision = self.decide(command, now)?;
        for event in &decision.events {
            self.apply(event);
        }
        Ok(decision)
    }
}

/// A command addressed to one aggregate instance: how effects name their target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Event(EventId, EventCommand),
    Inventory(EventId, InventoryCommand),
    Reservation(ReservationId, ReservationCommand),
    Payment(PaymentId, PaymentCommand),
}

/// An aggregate that [`Command`]s name by its id: lets the runtime tell which of a decision's
/// effects are addressed to a stream it is writing anyway.
pub trait Addressed: Aggregate {
    /// The command `command` carries, if it is addressed to this aggregate's instance `id`.
    fn addressed(command: &Command, id: uuid::Uuid) -> Option<&Self::Command>;
}

macro_rules! addressed {
    ($($aggregate:ty => $variant:ident),*) => {$(
        impl Addressed for $aggregate {
            fn addressed(command: &Command, id: uuid::Uuid) -> Option<&Self::Command> {
                match command {
                    Command::$variant(to, inner) if to.as_uuid() == id => Some(inner),
                    _ => None,
                }
            }
        }
    )*};
}
addressed!(
    super::event::Event => Event,
    super::inventory::Inventory => Inventory,
    super::reservation::Reservation => Reservation,
    super::payment::Payment => Payment
);

/// Something that must happen because of a decision. The runtime carries each one out exactly
/// once in effect: commands are idempotent at their target, so at-least-once delivery is enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Deliver a command to another aggregate (or to this one, later in the same flow).
    Send(Command),
    /// Deliver a command at (or soon after) an instant: the reservation hold's expiry.
    Schedule { at: Timestamp, command: Command },
    /// Capture `amount` at the payment gateway for this payment, then report the outcome to the
    /// payment with [`PaymentCommand::RecordOutcome`].
    Charge { payment_id: PaymentId, amount: Money },
    /// Return `amount` of this payment to the card. Idempotent at the gateway by `refund_id`.
    ReturnFunds { payment_id: PaymentId, refund_id: RefundId, amount: Money },
}
