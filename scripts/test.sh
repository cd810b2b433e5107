#!/usr/bin/env bash
# Every check CI runs: formatting, every test, and clippy with warnings as errors.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust
ensure_build_tools
ensure_postgres
ensure_redis
ensure_tansu
ensure_test_oidc_provider

log "format check"
cargo fmt --all -- --check

log "tests"
# Benches are load runs with their own scripts (scripts/bench-*.sh), not tests.
cargo test --lib --bins --tests --no-fail-fast

log "clippy (warnings are errors)"
cargo clippy --all-targets -- -D warnings

log "all checks passed"
