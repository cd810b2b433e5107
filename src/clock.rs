//! Where "now" comes from.
//!
//! Reducers never read a clock: whoever builds a command asks a [`Clock`] and puts the instant
//! into the command. Production uses [`SystemClock`]; tests use [`ManualClock`] and move time by
//! hand, so a 5-minute hold can expire in a microsecond of test time.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Clones share the same instant.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn starting_at(now: DateTime<Utc>) -> Self {
        Self { now: Arc::new(Mutex::new(now)) }
    }

    /// Moves time forward (or backward, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_clones_share_time() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = ManualClock::starting_at(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(Duration::seconds(300));
        assert_eq!(clock.now(), start + Duration::seconds(300));
        clock.set(start);
        assert_eq!(other.now(), start);
    }

    #[test]
    fn system_clock_is_close_to_utc_now() {
        let delta = SystemClock.now() - Utc::now();
        assert!(delta.num_seconds().abs() < 5);
    }
}
