//! Every way the domain can say "no". Infrastructure failures are not here: they belong to the
//! layers that do I/O, so a caller can always tell "the rules refused" from "the database is down".

use thiserror::Error;

/// A business rule refused a command. Nothing was decided; state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("{field}: {reason}")]
    Validation { field: &'static str, reason: String },

    #[error("quantity must be between 1 and 8, got {requested}")]
    InvalidQuantity { requested: i64 },

    #[error("cannot {action} while {from}")]
    InvalidStateTransition { from: &'static str, action: &'static str },

    #[error("ticket sales are not open for this event")]
    SalesNotOpen,

    #[error("the event has been cancelled")]
    EventCancelled,

    #[error("event not found")]
    EventNotFound,

    #[error("reservation not found")]
    ReservationNotFound,

    #[error("payment not found")]
    PaymentNotFound,

    #[error("ticket not found")]
    TicketNotFound,

    #[error("section {section:?} does not exist")]
    SectionNotFound { section: String },

    #[error("only {available} seat(s) available in {section}, {requested} requested")]
    InsufficientInventory { section: String, requested: u32, available: u32 },

    #[error("seat(s) not available: {}", seats.join(", "))]
    SeatUnavailable { seats: Vec<String> },

    #[error(
        "you already hold {held} unpaid seat(s) for this event; at most {limit} at once: pay for or cancel a hold first"
    )]
    HoldLimitReached { limit: u32, held: u32 },

    #[error("the reservation hold has expired")]
    ReservationExpired,

    #[error("tickets can no longer be transferred: the event starts within 24 hours")]
    TransferWindowClosed,

    #[error("{0}")]
    CancellationWindowClosed(&'static str),

    #[error("refund of {requested} cents exceeds the {refundable} cents still refundable")]
    RefundExceedsCaptured { requested: u64, refundable: u64 },

    #[error("{0} already exists")]
    AlreadyExists(&'static str),

    /// A ticket that cannot be let in: `refunded` or `transferred` (to someone else).
    #[error("this ticket cannot be let in: {0}")]
    NotAdmissible(&'static str),

    #[error("this ticket was already let in at {at}")]
    AlreadyCheckedIn { at: crate::domain::values::Timestamp },
}

impl DomainError {
    pub fn validation(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Validation { field, reason: reason.into() }
    }

    /// The API error code (API.md) this refusal is reported as.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } | Self::RefundExceedsCaptured { .. } => "VALIDATION_FAILED",
            Self::InvalidQuantity { .. } => "INVALID_QUANTITY",
            Self::InvalidStateTransition { .. } => "INVALID_STATE_TRANSITION",
            Self::SalesNotOpen => "SALES_NOT_OPEN",
            Self::EventCancelled => "EVENT_CANCELLED",
            Self::EventNotFound => "EVENT_NOT_FOUND",
            Self::ReservationNotFound => "RESERVATION_NOT_FOUND",
            Self::PaymentNotFound => "PAYMENT_NOT_FOUND",
            Self::TicketNotFound => "TICKET_NOT_FOUND",
            Self::SectionNotFound { .. } => "SECTION_NOT_FOUND",
            Self::InsufficientInventory { .. } => "INSUFFICIENT_INVENTORY",
            Self::SeatUnavailable { .. } => "SEAT_UNAVAILABLE",
            Self::HoldLimitReached { .. } => "HOLD_LIMIT_REACHED",
            Self::ReservationExpired => "RESERVATION_EXPIRED",
            Self::TransferWindowClosed => "TRANSFER_WINDOW_CLOSED",
            Self::CancellationWindowClosed(_) => "CANCELLATION_WINDOW_CLOSED",
            Self::AlreadyExists(_) => "CONFLICT",
            Self::NotAdmissible(_) => "NOT_ADMISSIBLE",
            Self::AlreadyCheckedIn { .. } => "ALREADY_CHECKED_IN",
        }
    }
}
