//! Ticketing platform: event-sourced aggregates behind an HTTP API.
//!
//! `domain` is the pure core (no I/O, no async, no clock reads). `store` persists its events in
//! PostgreSQL; `runtime` executes commands against it and carries out every effect durably.

pub mod analytics;
pub mod app;
pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod leadership;
pub mod live;
pub mod notifier;
pub mod projections;
pub mod runtime;
pub mod store;
pub mod ticket_codes;
