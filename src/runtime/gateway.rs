//! The payment gateway: a trait so a real processor can replace the built-in simulator.
//!
//! Every call is idempotent by its key (the payment id for charges, the refund id for refunds),
//! like a real processor's idempotency keys, so retries after a crash never charge or pay out
//! twice. `reconcile` answers "did this charge happen?" for a charge whose caller died, and makes
//! sure a late attempt with the same key can no longer succeed (a processor's "cancel intent").

use std::fmt;

use chrono::Datelike;

use futures::future::BoxFuture;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::DomainError;
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::money::Money;
use crate::domain::payment::{CardLast4, GatewayOutcome};
use crate::domain::values::Timestamp;

/// The gateway could not be reached or failed: nothing is known to have happened.
#[derive(Debug, thiserror::Error)]
#[error("payment gateway unavailable: {0}")]
pub struct GatewayError(pub String);

/// Card details as entered. The full number lives only in memory for the length of the charge;
/// `Debug` shows the last four digits only.
#[derive(Clone)]
pub struct Card {
    number: String,
    last4: CardLast4,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Card(****{})", self.last4)
    }
}

/// Luhn checksum over the digits of a card number.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl Card {
    /// Checks a card as a processor's front end would: 12–19 digits passing Luhn, an expiry
    /// `MM/YY` (or `MM/YYYY`) not in the past, and a 3–4 digit CVC.
    ///
    /// # Errors
    /// `ValidationFailed` naming the field.
    pub fn parse(number: &str, expiry: &str, cvc: &str, now: Timestamp) -> Result<Self, DomainError> {
        let compact: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&compact.len()) || !compact.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::validation("payment_method.card_number", "must be 12 to 19 digits"));
        }
        let digits: Vec<u8> = compact.bytes().map(|b| b - b'0').collect();
        if !luhn_valid(&digits) {
            return Err(DomainError::validation("payment_method.card_number", "is not a valid card number"));
        }
        let bad_expiry = || DomainError::validation("payment_method.expiry", "must be MM/YY and not in the past");
        let (month, year) = expiry.trim().split_once('/').ok_or_else(bad_expiry)?;
        let month: u32 = month.trim().parse().map_err(|_| bad_expiry())?;
        let year: i32 = match year.trim() {
            y if y.len() == 2 => 2000 + y.parse::<i32>().map_err(|_| bad_expiry())?,
            y if y.len() == 4 => y.parse().map_err(|_| bad_expiry())?,
            _ => return Err(bad_expiry()),
        };
        if !(1..=12).contains(&month) || (year, month) < (now.year(), now.month()) {
            return Err(bad_expiry());
        }
        if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::validation("payment_method.cvc", "must be 3 or 4 digits"));
        }
        let last4 = CardLast4::of(&compact)?;
        Ok(Self { number: compact, last4 })
    }

    pub fn last4(&self) -> CardLast4 {
        self.last4
    }
}

pub trait PaymentGateway: Send + Sync + fmt::Debug {
    /// Captures `amount`; the payment id is the idempotency key.
    fn charge<'a>(
        &'a self,
        payment: PaymentId,
        amount: Money,
        card: &'a Card,
    ) -> BoxFuture<'a, Result<GatewayOutcome, GatewayError>>;

    /// The outcome of a charge whose caller died: what happened, or "nothing, and now it never
    /// will" (a declined outcome).
    fn reconcile(&self, payment: PaymentId, amount: Money) -> BoxFuture<'_, Result<GatewayOutcome, GatewayError>>;

    /// Returns `amount` of a captured payment; the refund id is the idempotency key.
    fn refund(&self, payment: PaymentId, refund: RefundId, amount: Money) -> BoxFuture<'_, Result<(), GatewayError>>;
}

/// A processor's test mode: `4242 4242 4242 4242` and other valid cards succeed,
/// `4000 0000 0000 0002` is declined (`card_declined`), `4000 0000 0000 9995` is declined
/// (`insufficient_funds`). Its ledger lives in the events database so it survives restarts.
#[derive(Debug, Clone)]
pub struct SimulatedGateway {
    pool: PgPool,
}

impl SimulatedGateway {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn outcome_of(&self, payment: PaymentId) -> Result<GatewayOutcome, GatewayError> {
        let (status, last4, reason, reference): (String, Option<String>, Option<String>, String) = sqlx::query_as(
            "SELECT status, card_last4, reason, reference FROM gateway_simulator_charges WHERE payment_id = $1",
        )
        .bind(payment.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| GatewayError(e.to_string()))?;
        let card_last4 = last4.and_then(|l| CardLast4::of(&l).ok());
        Ok(match (status.as_str(), card_last4) {
            ("captured", Some(card_last4)) => GatewayOutcome::Captured { card_last4, gateway_reference: reference },
            ("voided", _) => GatewayOutcome::Declined { card_last4, reason: "payment_interrupted".into() },
            _ => GatewayOutcome::Declined { card_last4, reason: reason.unwrap_or_else(|| "card_declined".into()) },
        })
    }
}

impl PaymentGateway for SimulatedGateway {
    fn charge<'a>(
        &'a self,
        payment: PaymentId,
        amount: Money,
        card: &'a Card,
    ) -> BoxFuture<'a, Result<GatewayOutcome, GatewayError>> {
        Box::pin(async move {
            let (status, reason) = match card.number.as_str() {
                "4000000000000002" => ("declined", Some("card_declined")),
                "4000000000009995" => ("declined", Some("insufficient_funds")),
                _ => ("captured", None),
            };
            // First write wins: a retry, or a charge already voided by reconcile, gets the
            // recorded outcome instead of a second charge.
            sqlx::query(
                "INSERT INTO gateway_simulator_charges (payment_id, status, amount_cents, card_last4, reason, reference)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id) DO NOTHING",
            )
            .bind(payment.as_uuid())
            .bind(status)
            .bind(amount.cents_i64())
            .bind(card.last4.to_string())
            .bind(reason)
            .bind(format!("sim_{}", Uuid::new_v4().simple()))
            .execute(&self.pool)
            .await
            .map_err(|e| GatewayError(e.to_string()))?;
            self.outcome_of(payment).await
        })
    }

    fn reconcile(&self, payment: PaymentId, amount: Money) -> BoxFuture<'_, Result<GatewayOutcome, GatewayError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO gateway_simulator_charges (payment_id, status, amount_cents, reference)
                 VALUES ($1, 'voided', $2, $3) ON CONFLICT (payment_id) DO NOTHING",
            )
            .bind(payment.as_uuid())
            .bind(amount.cents_i64())
            .bind(format!("sim_{}", Uuid::new_v4().simple()))
            .execute(&self.pool)
            .await
            .map_err(|e| GatewayError(e.to_string()))?;
            self.outcome_of(payment).await
        })
    }

    fn refund(&self, payment: PaymentId, refund: RefundId, amount: Money) -> BoxFuture<'_, Result<(), GatewayError>> {
        Box::pin(async move {
            // Refuses (like a processor) to refund more than was captured.
            let inserted = sqlx::query(
                "INSERT INTO gateway_simulator_refunds (refund_id, payment_id, amount_cents)
                 SELECT $1, c.payment_id, $3 FROM gateway_simulator_charges c
                 WHERE c.payment_id = $2 AND c.status = 'captured'
                   AND c.amount_cents >= $3 + COALESCE((SELECT sum(amount_cents) FROM gateway_simulator_refunds r
                                                        WHERE r.payment_id = c.payment_id), 0)
                 ON CONFLICT (refund_id) DO NOTHING",
            )
            .bind(refund.as_uuid())
            .bind(payment.as_uuid())
            .bind(amount.cents_i64())
            .execute(&self.pool)
            .await
            .map_err(|e| GatewayError(e.to_string()))?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            let known: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM gateway_simulator_refunds WHERE refund_id = $1)")
                    .bind(refund.as_uuid())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| GatewayError(e.to_string()))?;
            if known { Ok(()) } else { Err(GatewayError(format!("refund of {amount} refused for {payment:?}"))) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_timestamp(1_800_000_000, 0).unwrap() // 2027-01-15
    }

    #[test]
    fn cards_are_checked_like_a_processor_would() {
        assert!(Card::parse("4242 4242 4242 4242", "12/30", "123", now()).is_ok());
        assert!(Card::parse("4000000000000002", "01/2027", "1234", now()).is_ok());
        for (number, expiry, cvc, field) in [
            ("4242424242424241", "12/30", "123", "payment_method.card_number"),
            ("4242", "12/30", "123", "payment_method.card_number"),
            ("4242abcd42424242", "12/30", "123", "payment_method.card_number"),
            ("4242424242424242", "12/26", "123", "payment_method.expiry"),
            ("4242424242424242", "13/30", "123", "payment_method.expiry"),
            ("4242424242424242", "1230", "123", "payment_method.expiry"),
            ("4242424242424242", "12/30", "12", "payment_method.cvc"),
            ("4242424242424242", "12/30", "12a", "payment_method.cvc"),
        ] {
            match Card::parse(number, expiry, cvc, now()) {
                Err(DomainError::Validation { field: f, .. }) => assert_eq!(f, field, "{number} {expiry} {cvc}"),
                other => panic!("{number} {expiry} {cvc}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_never_shows_the_number() {
        let card = Card::parse("4242424242424242", "12/30", "123", now()).unwrap();
        assert_eq!(format!("{card:?}"), "Card(****4242)");
    }
}
