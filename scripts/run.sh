#!/usr/bin/env bash
# Builds the product and serves it on :8080 with a demo event.
#
# Today the repository holds the domain core and the write side (event store, runtime, sagas,
# timers). The HTTP server, the bus, the read models and the SPA are the next issues; until they
# land this script sets up PostgreSQL, migrates, builds, and says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust
ensure_build_tools
ensure_postgres

log "building"
cargo build --release --bin ticketing

log "migrating"
"$CARGO_TARGET_DIR/release/ticketing" migrate

cat <<'MSG'

Built `ticketing` and migrated the events database (ticketing_events).
Not there yet, so nothing is served on :8080:
  - the HTTP server (`ticketing serve`), REST API and WebSocket feed
  - the event bus, read models and analytics
  - the Svelte SPA
Run scripts/test.sh to check everything that exists.
MSG
