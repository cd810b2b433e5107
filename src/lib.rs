//! Ticketing platform: event-sourced aggregates behind an HTTP API.
//!
//! `domain` is the pure core (no I/O, no async, no clock reads). `clock` supplies time to the
//! code that builds commands, so reducers stay functions of (state, command).

pub mod clock;
pub mod domain;
