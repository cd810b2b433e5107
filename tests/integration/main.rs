//! The one integration-test binary: every module here shares a build (zero-to-production style).

// Test code may unwrap and panic: a failed assumption is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod domain_purity;
mod runtime;
mod store;
mod support;
