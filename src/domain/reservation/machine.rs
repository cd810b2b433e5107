//! The reservation saga's state machine as data. `decide` asks [`next`] whether a trigger may move
//! the saga; `apply` moves it with the same table, so the two can never disagree.
//!
//! ```text
//!                  ┌─ allocation failed ─▶ rejected
//! initiated ───────┼─ seats allocated ──▶ seats_reserved ── payment requested ──▶ payment_pending
//!   │  │           │                        │   │                                   │  │  │
//!   │  │           │                        │   └─ cancel / event cancelled ─▶ cancelled ◀─┘  │
//!   │  └─ cancel / event cancelled ─▶ cancelled                                     │         │
//!   └─ expire ─▶ expired ◀─ expire ─────────┘◀──────────── expire ──────────────────┘         │
//!                                  compensated ◀─ payment failed ─ payment_pending ─ payment succeeded ─▶ completed
//!                                                                   completed ─ cancel (policy) / event cancelled ─▶ refunded
//! ```
//! Terminal: `rejected`, `expired`, `cancelled`, `compensated`, `refunded`. `completed` is
//! final for the purchase but can still be refunded.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReservationStatus {
    /// Created; waiting for the inventory's answer (milliseconds in practice).
    Initiated,
    SeatsReserved,
    PaymentPending,
    Completed,
    Expired,
    Cancelled,
    Compensated,
    Refunded,
    /// The inventory had no seats for it (sold out, seat taken, sales closed).
    Rejected,
}

impl ReservationStatus {
    pub const ALL: [ReservationStatus; 9] = [
        Self::Initiated,
        Self::SeatsReserved,
        Self::PaymentPending,
        Self::Completed,
        Self::Expired,
        Self::Cancelled,
        Self::Compensated,
        Self::Refunded,
        Self::Rejected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initiated => "initiated",
            Self::SeatsReserved => "seats_reserved",
            Self::PaymentPending => "payment_pending",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Compensated => "compensated",
            Self::Refunded => "refunded",
            Self::Rejected => "rejected",
        }
    }

    /// No trigger leads out of a terminal state.
    pub fn is_terminal(self) -> bool {
        TRANSITIONS.iter().all(|(from, _, _)| *from != self)
    }

    /// Whether seats are (or should be) held for the reservation in this state.
    pub const fn holds_seats(self) -> bool {
        matches!(self, Self::SeatsReserved | Self::PaymentPending | Self::Completed)
    }
}

/// What can move the saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Trigger {
    SeatsAllocated,
    AllocationFailed,
    PaymentRequested,
    PaymentSucceeded,
    PaymentFailed,
    Expire,
    Cancel,
    EventCancelled,
}

use ReservationStatus as S;
use Trigger as T;

/// Every allowed move, and nothing else.
pub const TRANSITIONS: &[(ReservationStatus, Trigger, ReservationStatus)] = &[
    (S::Initiated, T::SeatsAllocated, S::SeatsReserved),
    (S::Initiated, T::AllocationFailed, S::Rejected),
    (S::Initiated, T::Expire, S::Expired),
    (S::Initiated, T::Cancel, S::Cancelled),
    (S::Initiated, T::EventCancelled, S::Cancelled),
    (S::SeatsReserved, T::PaymentRequested, S::PaymentPending),
    (S::SeatsReserved, T::Expire, S::Expired),
    (S::SeatsReserved, T::Cancel, S::Cancelled),
    (S::SeatsReserved, T::EventCancelled, S::Cancelled),
    (S::PaymentPending, T::PaymentSucceeded, S::Completed),
    (S::PaymentPending, T::PaymentFailed, S::Compensated),
    (S::PaymentPending, T::Expire, S::Expired),
    (S::PaymentPending, T::EventCancelled, S::Cancelled),
    (S::Completed, T::Cancel, S::Refunded),
    (S::Completed, T::EventCancelled, S::Refunded),
];

/// Where `trigger` takes the saga from `from`, if anywhere.
pub fn next(from: ReservationStatus, trigger: Trigger) -> Option<ReservationStatus> {
    TRANSITIONS.iter().find(|(f, t, _)| *f == from && *t == trigger).map(|(_, _, to)| *to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_a_function() {
        for (i, (from, trigger, _)) in TRANSITIONS.iter().enumerate() {
            assert!(
                TRANSITIONS[i + 1..].iter().all(|(f, t, _)| (f, t) != (from, trigger)),
                "{from:?} × {trigger:?} listed twice"
            );
        }
    }

    #[test]
    fn terminal_states_are_the_documented_ones() {
        let terminal: Vec<_> = ReservationStatus::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [S::Expired, S::Cancelled, S::Compensated, S::Refunded, S::Rejected]);
    }

    #[test]
    fn every_state_is_reachable_from_initiated() {
        let mut reached = vec![S::Initiated];
        let mut i = 0;
        while let Some(&state) = reached.get(i) {
            for (from, _, to) in TRANSITIONS {
                if *from == state && !reached.contains(to) {
                    reached.push(*to);
                }
            }
            i += 1;
        }
        reached.sort();
        let mut all = ReservationStatus::ALL.to_vec();
        all.sort();
        assert_eq!(reached, all);
    }
}
