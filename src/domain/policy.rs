//! The time-based business rules, in one place: pricing tiers, the customer refund policy, and
//! the transfer and cancellation windows. All of them are measured from the event's start.
//!
//! Boundary decisions (each tested below):
//! - exactly 30 days before the start is still early bird ("30 days or more");
//! - exactly 7 days before the start is regular price ("last minute" is *under* 7 days);
//! - a customer cancelling exactly 7 days before gets 50 % ("full" is *more than* 7 days;
//!   "50 %" is from 3 to 7 days inclusive); exactly 3 days before is still 50 %;
//! - under 3 days a completed purchase can no longer be cancelled: the policy refunds nothing,
//!   and taking the seats back for nothing would hurt the buyer, so the ticket stays valid (it
//!   can still be transferred until 24 hours before the start).

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::money::Money;
use super::values::{EventDate, Timestamp};

/// Which price applies when seats are allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PriceTier {
    /// 30 days or more before the start: base price −20 %.
    EarlyBird,
    /// Base price.
    Regular,
    /// Under 7 days before the start: base price +10 %.
    LastMinute,
}

impl PriceTier {
    pub fn at(date: EventDate, now: Timestamp) -> Self {
        let left = date.time_until(now);
        if left >= Duration::days(30) {
            Self::EarlyBird
        } else if left < Duration::days(7) {
            Self::LastMinute
        } else {
            Self::Regular
        }
    }

    const fn percent_of_base(self) -> u64 {
        match self {
            Self::EarlyBird => 80,
            Self::Regular => 100,
            Self::LastMinute => 110,
        }
    }

    /// The price of one seat in this tier (rounded half up to the cent).
    pub fn unit_price(self, base: Money) -> Option<Money> {
        base.percent_rounded(self.percent_of_base())
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EarlyBird => "early_bird",
            Self::Regular => "regular",
            Self::LastMinute => "last_minute",
        }
    }
}

/// How much of the price a customer gets back when they cancel a paid reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RefundShare {
    /// More than 7 days before the start, or the organiser cancelled the event.
    Full,
    /// From 3 to 7 days before the start.
    Half,
    /// Under 3 days before the start: cancellation is refused.
    Closed,
}

impl RefundShare {
    /// The share a customer-initiated cancellation gets at `now`.
    pub fn for_customer(date: EventDate, now: Timestamp) -> Self {
        let left = date.time_until(now);
        if left > Duration::days(7) {
            Self::Full
        } else if left >= Duration::days(3) {
            Self::Half
        } else {
            Self::Closed
        }
    }

    /// The refund for `paid` under this share (half is rounded down to the cent); `None` when
    /// cancellation is closed.
    pub fn refund_of(self, paid: Money) -> Option<Money> {
        match self {
            Self::Full => Some(paid),
            Self::Half => paid.percent_floor(50),
            Self::Closed => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Half => "half",
            Self::Closed => "closed",
        }
    }
}

/// Tickets may change hands until 24 hours before the start.
pub fn transfer_allowed(date: EventDate, now: Timestamp) -> bool {
    date.time_until(now) > Duration::hours(24)
}

/// The organiser may cancel an event until 24 hours before the start.
pub fn event_cancellation_allowed(date: EventDate, now: Timestamp) -> bool {
    date.time_until(now) > Duration::hours(24)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: i64, extra_seconds: i64) -> (EventDate, Timestamp) {
        let now = Timestamp::from_timestamp(1_800_000_000, 0).unwrap();
        (EventDate::recorded(now + Duration::days(days) + Duration::seconds(extra_seconds)), now)
    }

    #[test]
    fn price_tiers_at_their_boundaries() {
        let tier = |d, s| {
            let (date, now) = at(d, s);
            PriceTier::at(date, now)
        };
        assert_eq!(tier(90, 0), PriceTier::EarlyBird);
        assert_eq!(tier(30, 0), PriceTier::EarlyBird);
        assert_eq!(tier(30, -1), PriceTier::Regular);
        assert_eq!(tier(7, 0), PriceTier::Regular);
        assert_eq!(tier(7, -1), PriceTier::LastMinute);
        assert_eq!(tier(0, 60), PriceTier::LastMinute);
    }

    #[test]
    fn tier_prices() {
        let base = Money::from_cents(10_000);
        assert_eq!(PriceTier::EarlyBird.unit_price(base).unwrap().cents(), 8_000);
        assert_eq!(PriceTier::Regular.unit_price(base).unwrap().cents(), 10_000);
        assert_eq!(PriceTier::LastMinute.unit_price(base).unwrap().cents(), 11_000);
    }

    #[test]
    fn refund_policy_at_its_boundaries() {
        let share = |d, s| {
            let (date, now) = at(d, s);
            RefundShare::for_customer(date, now)
        };
        assert_eq!(share(7, 1), RefundShare::Full);
        assert_eq!(share(7, 0), RefundShare::Half);
        assert_eq!(share(3, 0), RefundShare::Half);
        assert_eq!(share(3, -1), RefundShare::Closed);
        assert_eq!(share(-1, 0), RefundShare::Closed);
        assert_eq!(RefundShare::Half.refund_of(Money::from_cents(1001)), Some(Money::from_cents(500)));
        assert_eq!(RefundShare::Full.refund_of(Money::from_cents(1001)), Some(Money::from_cents(1001)));
        assert_eq!(RefundShare::Closed.refund_of(Money::from_cents(1001)), None);
    }

    #[test]
    fn windows_close_24_hours_before_the_start() {
        let (date, now) = at(1, 1);
        assert!(transfer_allowed(date, now));
        assert!(event_cancellation_allowed(date, now));
        let (date, now) = at(1, 0);
        assert!(!transfer_allowed(date, now));
        assert!(!event_cancellation_allowed(date, now));
    }
}
