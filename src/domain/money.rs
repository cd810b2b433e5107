//! Money as a whole number of cents. No floats anywhere: prices, totals and refunds are integer
//! arithmetic, checked for overflow, and percentages round in one documented direction.

use std::fmt;
use std::iter::Sum;

use serde::{Deserialize, Serialize};

use super::error::DomainError;

/// A non-negative amount in cents of the platform's single currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Money(u64);

/// The largest amount accepted from outside: ten million units of currency. Anything above is a
/// typo or an attack, and keeping amounts this small means `amount * quantity * percent` never
/// overflows `u64`.
pub const MAX_CENTS: u64 = 1_000_000_000;

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_cents(cents: u64) -> Self {
        Self(cents)
    }

    /// Parses an amount given by a user: must be between 1 cent and [`MAX_CENTS`].
    ///
    /// # Errors
    /// `ValidationFailed` naming `field` when the amount is zero, negative or too large.
    pub fn positive(field: &'static str, cents: i64) -> Result<Self, DomainError> {
        match u64::try_from(cents) {
            Ok(c) if (1..=MAX_CENTS).contains(&c) => Ok(Self(c)),
            _ => Err(DomainError::validation(field, format!("must be between 1 and {MAX_CENTS} cents"))),
        }
    }

    pub const fn cents(self) -> u64 {
        self.0
    }

    /// The amount as a database `BIGINT` (amounts are bounded far below `i64::MAX`).
    pub fn cents_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// Difference, or zero when `other` is larger.
    #[must_use]
    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }

    pub fn checked_mul(self, times: u64) -> Option<Money> {
        self.0.checked_mul(times).map(Money)
    }

    /// `percent` of this amount, rounded half up to the cent (prices: 80 % of 1999 is 1599.2 → 1599,
    /// 110 % of 1995 is 2194.5 → 2195).
    pub fn percent_rounded(self, percent: u64) -> Option<Money> {
        let scaled = self.0.checked_mul(percent)?.checked_add(50)?;
        Some(Money(scaled / 100))
    }

    /// `percent` of this amount, rounded down to the cent. Used for partial refunds, so a refund is
    /// never more than the policy's share of what was paid.
    pub fn percent_floor(self, percent: u64) -> Option<Money> {
        Some(Money(self.0.checked_mul(percent)? / 100))
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Sum for Money {
    /// Sums amounts; saturates rather than wraps (amounts are bounded far below `u64::MAX`).
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.fold(0u64, |acc, m| acc.saturating_add(m.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn positive_accepts_the_range_and_rejects_the_rest() {
        assert_eq!(Money::positive("price", 1).unwrap().cents(), 1);
        assert_eq!(Money::positive("price", 1_000_000_000).unwrap().cents(), MAX_CENTS);
        for bad in [0, -1, i64::MIN, 1_000_000_001, i64::MAX] {
            let err = Money::positive("price", bad).unwrap_err();
            assert_eq!(err.code(), "VALIDATION_FAILED", "{bad}");
        }
    }

    #[test]
    fn percentages_round_as_documented() {
        let m = Money::from_cents(1999);
        assert_eq!(m.percent_rounded(80).unwrap().cents(), 1599);
        assert_eq!(Money::from_cents(1995).percent_rounded(110).unwrap().cents(), 2195);
        assert_eq!(Money::from_cents(1001).percent_floor(50).unwrap().cents(), 500);
    }

    #[test]
    fn arithmetic_is_checked() {
        let max = Money::from_cents(u64::MAX);
        assert!(max.checked_add(Money::from_cents(1)).is_none());
        assert!(Money::ZERO.checked_sub(Money::from_cents(1)).is_none());
        assert_eq!(Money::from_cents(3).saturating_sub(Money::from_cents(5)), Money::ZERO);
        assert!(max.checked_mul(2).is_none());
        assert_eq!(Money::from_cents(12_345).to_string(), "123.45");
    }

    proptest! {
        #[test]
        fn floor_share_never_exceeds_rounded_share(cents in 0..=MAX_CENTS * 8, pct in 0u64..=100) {
            let m = Money::from_cents(cents);
            let floor = m.percent_floor(pct).unwrap();
            let rounded = m.percent_rounded(pct).unwrap();
            prop_assert!(floor <= rounded);
            prop_assert!(floor <= m);
            prop_assert!(rounded.cents() - floor.cents() <= 1);
        }
    }
}
