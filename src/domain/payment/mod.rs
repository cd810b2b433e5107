//! The Payment aggregate: one charge of one reservation, and its refunds.
//!
//! The reducer never talks to the gateway. `Start` asks the runtime (through
//! [`Effect::Charge`]) to capture the amount; the gateway's answer comes back as
//! [`PaymentCommand::RecordOutcome`]. Refunds are recorded first and carried out at the gateway
//! by [`Effect::ReturnFunds`], keyed by their refund id so a retry never pays out twice.
//! Invariant: `refunded <= captured`, always.

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::ids::{CustomerId, PaymentId, RefundId, ReservationId};
use super::money::Money;
use super::reducer::{Aggregate, Command, Decision, Effect};
use super::reservation::ReservationCommand;
use super::values::Timestamp;

/// The only part of a card number the platform ever keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CardLast4([u8; 4]);

impl CardLast4 {
    /// The last four digits of a card number (spaces ignored).
    ///
    /// # Errors
    /// `ValidationFailed` when there are fewer than four digits.
    pub fn of(card_number: &str) -> Result<Self, DomainError> {
        let digits: Vec<u8> = card_number.bytes().filter(u8::is_ascii_digit).collect();
        match digits.as_slice() {
            [.., a, b, c, d] => Ok(Self([*a, *b, *c, *d])),
            _ => Err(DomainError::validation("payment_method.card_number", "too short")),
        }
    }
}

impl fmt::Display for CardLast4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.0).unwrap_or("????"))
    }
}

/// How much a refund asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundAmount {
    /// Exactly this much, or refuse (an admin's explicit amount).
    Exactly(Money),
    /// This much, or whatever is left if less (a late payment given back in full).
    UpTo(Money),
    /// Whatever brings the payment's refunded total up to this much (nothing if it is there
    /// already). The saga's policy refunds: decided here, where the real refunded total is
    /// known, so an admin's refund the reservation has not heard of yet is counted, not paid
    /// again on top.
    TopUpTo(Money),
    /// Everything still refundable.
    Remaining,
}

/// What the gateway answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GatewayOutcome {
    Captured { card_last4: CardLast4, gateway_reference: String },
    Declined { card_last4: Option<CardLast4>, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentCommand {
    Start {
        payment_id: PaymentId,
        reservation_id: ReservationId,
        customer_id: CustomerId,
        amount: Money,
    },
    RecordOutcome {
        outcome: GatewayOutcome,
    },
    /// Refund part or all of a captured payment.
    Refund {
        refund_id: RefundId,
        amount: RefundAmount,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentEvent {
    Started {
        payment_id: PaymentId,
        reservation_id: ReservationId,
        customer_id: CustomerId,
        amount: Money,
        at: Timestamp,
    },
    Captured {
        card_last4: CardLast4,
        gateway_reference: String,
        at: Timestamp,
    },
    Declined {
        card_last4: Option<CardLast4>,
        reason: String,
        at: Timestamp,
    },
    Refunded {
        refund_id: RefundId,
        amount: Money,
        reason: String,
        at: Timestamp,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PaymentStatus {
    Pending,
    Captured,
    Declined,
    PartiallyRefunded,
    Refunded,
}

impl PaymentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Captured => "captured",
            Self::Declined => "declined",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentDetails {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub customer_id: CustomerId,
    pub amount: Money,
    pub status: PaymentStatus,
    pub card_last4: Option<CardLast4>,
    pub decline_reason: Option<String>,
    pub captured: Money,
    pub refunded: Money,
    pub created_at: Timestamp,
    refunds: BTreeSet<RefundId>,
}

impl PaymentDetails {
    pub fn refundable(&self) -> Money {
        self.captured.saturating_sub(self.refunded)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    details: Option<PaymentDetails>,
}

impl Payment {
    pub fn details(&self) -> Option<&PaymentDetails> {
        self.details.as_ref()
    }
}

impl Aggregate for Payment {
    type Command = PaymentCommand;
    type Event = PaymentEvent;

    fn decide(&self, command: &PaymentCommand, now: Timestamp) -> Result<Decision<PaymentEvent>, DomainError> {
        use PaymentStatus as S;
        let p = match (&self.details, command) {
            (None, PaymentCommand::Start { payment_id, reservation_id, customer_id, amount }) => {
                if amount.is_zero() {
                    return Err(DomainError::validation("amount_cents", "must be positive"));
                }
                return Ok(Decision::event(PaymentEvent::Started {
                    payment_id: *payment_id,
                    reservation_id: *reservation_id,
                    customer_id: *customer_id,
                    amount: *amount,
                    at: now,
                })
                .with(Effect::Charge { payment_id: *payment_id, amount: *amount }));
            }
            (None, _) => return Err(DomainError::PaymentNotFound),
            (Some(p), _) => p,
        };
        let to_reservation = |command| Effect::Send(Command::Reservation(p.reservation_id, command));
        Ok(match command {
            PaymentCommand::Start { reservation_id, amount, .. } => {
                if *reservation_id == p.reservation_id && *amount == p.amount {
                    Decision::nothing()
                } else {
                    return Err(DomainError::AlreadyExists("payment"));
                }
            }
            // The first outcome is final; a repeated or contradicting report changes nothing.
            PaymentCommand::RecordOutcome { .. } if p.status != S::Pending => Decision::nothing(),
            PaymentCommand::RecordOutcome { outcome: GatewayOutcome::Captured { card_last4, gateway_reference } } => {
                Decision::event(PaymentEvent::Captured {
                    card_last4: *card_last4,
                    gateway_reference: gateway_reference.clone(),
                    at: now,
                })
                .with(to_reservation(ReservationCommand::PaymentSucceeded {
                    payment_id: p.payment_id,
                    amount: p.amount,
                }))
            }
            PaymentCommand::RecordOutcome { outcome: GatewayOutcome::Declined { card_last4, reason } } => {
                Decision::event(PaymentEvent::Declined { card_last4: *card_last4, reason: reason.clone(), at: now })
                    .with(to_reservation(ReservationCommand::PaymentFailed {
                        payment_id: p.payment_id,
                        reason: reason.clone(),
                    }))
            }
            PaymentCommand::Refund { refund_id, .. } if p.refunds.contains(refund_id) => Decision::nothing(),
            // A policy refund on a payment refunded in full already: nothing is owed.
            PaymentCommand::Refund { amount: RefundAmount::TopUpTo(_), .. } if p.status == S::Refunded => {
                Decision::nothing()
            }
            PaymentCommand::Refund { refund_id, amount, reason } => {
                match p.status {
                    S::Captured | S::PartiallyRefunded => {}
                    other => {
                        return Err(DomainError::InvalidStateTransition { from: other.as_str(), action: "refund" });
                    }
                }
                let refundable = p.refundable();
                let amount_asked = *amount;
                let amount = match amount_asked {
                    RefundAmount::Exactly(amount) if amount > refundable => {
                        return Err(DomainError::RefundExceedsCaptured {
                            requested: amount.cents(),
                            refundable: refundable.cents(),
                        });
                    }
                    RefundAmount::Exactly(amount) => amount,
                    RefundAmount::UpTo(amount) => amount.min(refundable),
                    RefundAmount::TopUpTo(total) => total.saturating_sub(p.refunded).min(refundable),
                    RefundAmount::Remaining => refundable,
                };
                if amount.is_zero() {
                    if matches!(amount_asked, RefundAmount::TopUpTo(_)) {
                        // Already refunded at least that much: nothing more is owed.
                        return Ok(Decision::nothing());
                    }
                    return Err(DomainError::validation("amount_cents", "must be positive"));
                }
                let reason = reason.trim();
                if reason.is_empty() || reason.chars().count() > 500 {
                    return Err(DomainError::validation("reason", "must be 1 to 500 characters"));
                }
                Decision::event(PaymentEvent::Refunded {
                    refund_id: *refund_id,
                    amount,
                    reason: reason.to_owned(),
                    at: now,
                })
                .with(Effect::ReturnFunds { payment_id: p.payment_id, refund_id: *refund_id, amount })
                .with(to_reservation(ReservationCommand::RecordRefund {
                    refund_id: *refund_id,
                    payment_id: p.payment_id,
                    amount,
                }))
            }
        })
    }

    fn apply(&mut self, event: &PaymentEvent) {
        if let PaymentEvent::Started { payment_id, reservation_id, customer_id, amount, at } = event {
            self.details = Some(PaymentDetails {
                payment_id: *payment_id,
                reservation_id: *reservation_id,
                customer_id: *customer_id,
                amount: *amount,
                status: PaymentStatus::Pending,
                card_last4: None,
                decline_reason: None,
                captured: Money::ZERO,
                refunded: Money::ZERO,
                created_at: *at,
                refunds: BTreeSet::new(),
            });
            return;
        }
        let Some(p) = self.details.as_mut() else { return };
        match event {
            PaymentEvent::Started { .. } => {}
            PaymentEvent::Captured { card_last4, .. } => {
                p.status = PaymentStatus::Captured;
                p.card_last4 = Some(*card_last4);
                p.captured = p.amount;
            }
            PaymentEvent::Declined { card_last4, reason, .. } => {
                p.status = PaymentStatus::Declined;
                p.card_last4 = *card_last4;
                p.decline_reason = Some(reason.clone());
            }
            PaymentEvent::Refunded { refund_id, amount, .. } => {
                p.refunds.insert(*refund_id);
                p.refunded = p.refunded.checked_add(*amount).unwrap_or(p.refunded);
                p.status =
                    if p.refunded >= p.captured { PaymentStatus::Refunded } else { PaymentStatus::PartiallyRefunded };
            }
        }
    }
}
