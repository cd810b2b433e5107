//! The pure core: value types, the four aggregates and the business rules.
//!
//! Nothing here does I/O, awaits, or reads a clock (a test greps for it): time arrives as the
//! `now` argument of [`reducer::Aggregate::decide`], ids that must be new arrive in commands or
//! are derived deterministically, and everything that must happen elsewhere leaves as an
//! [`reducer::Effect`] value.

pub mod error;
pub mod event;
pub mod ids;
pub mod inventory;
pub mod money;
pub mod payment;
pub mod policy;
pub mod reducer;
pub mod reservation;
pub mod seating;
pub mod values;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod testing;

pub use error::DomainError;
pub use reducer::{Aggregate, Command, Decision, Effect};
