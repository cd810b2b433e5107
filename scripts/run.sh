#!/usr/bin/env bash
# Builds the product and serves it on :8080 with a demo event.
#
# Today the repository holds the domain core only (the four aggregates as pure reducers and
# their tests). The server, the PostgreSQL event store, the bus, the read models and the SPA
# are the next issues; until they land this script builds what exists and says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust

log "building"
cargo build --release

cat <<'MSG'

Built the ticketing library (domain core).
Not there yet, so nothing is served on :8080:
  - the HTTP server (`ticketing serve`), REST API and WebSocket feed
  - the PostgreSQL event store, command runtime, timers and sagas
  - the event bus, read models and analytics
  - the Svelte SPA
Run scripts/test.sh to check everything that exists.
MSG
