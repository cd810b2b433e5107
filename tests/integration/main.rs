//! The one integration-test binary: every module here shares a build (zero-to-production style).

// Test code may unwrap and panic: a failed assumption is a failed test.
// A scenario test reads best as one script.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod api;
mod auth;
mod authorization;
mod checkin;
mod cli;

mod consistency;
mod deployment;
mod domain_purity;
mod errors;
mod hostile;
mod idempotency;
mod instances;
mod kafka;
mod leadership;
mod live;
mod mail;
mod oauth;
mod openapi;
mod passkeys;
mod projections;
mod purchase;
mod runtime;
mod security;
mod store;
mod support;
