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
ensure_chromium
ensure_web_deps

log "format check"
cargo fmt --all -- --check

log "tests"
# Benches are load runs with their own scripts (scripts/bench-*.sh), not tests. The fault suite
# (tests/faults) is a test: two instances of the binary through SIGKILL, PostgreSQL, Redis and
# broker restarts and a rolling restart (its output is not captured: its figures show in the log).
cargo test --lib --bins --tests --no-fail-fast

log "clippy (warnings are errors)"
cargo clippy --all-targets -- -D warnings

log "contract fuzzing (schemathesis against /api/openapi.json)"
TICKETING_BIN="$CARGO_TARGET_DIR/debug/ticketing" bash scripts/fuzz-api.sh

log "deployment files: hadolint and docker-compose config"
ensure_deploy_linters
hadolint Dockerfile
env_file="$(mktemp)"
cp .env.example "$env_file"
docker-compose --env-file "$env_file" -f docker-compose.yml config -q
rm -f "$env_file"

# The web app: its API types against the server's current document (app and API cannot
# drift), types, lint, unit tests, a fresh build, its weight, and the browser stories against
# the real server (built by `cargo test` above).
export TICKETING_BIN="$CARGO_TARGET_DIR/debug/ticketing"
log "web: API types match the server's OpenAPI document"
npm run --prefix web check:api --silent
log "web: types (svelte-check) and lint"
npm run --prefix web check --silent
npm run --prefix web lint --silent
log "web: unit tests"
npm run --prefix web test:unit --silent
log "web: build"
npm run --prefix web build --silent >/dev/null
npm run --prefix web size --silent
log "web: browser stories (Playwright, Debian's Chromium)"
npm run --prefix web test:e2e --silent

log "all checks passed"
