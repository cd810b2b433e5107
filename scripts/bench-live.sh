#!/usr/bin/env bash
# WebSocket fan-out of live availability: SOCKETS clients on one event while reservations arrive
# at RATE per second for SECONDS. Numbers go into PERFORMANCE.md.
# Usage: scripts/bench-live.sh   (SOCKETS=2000 RATE=50 SECONDS=10 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_rust
ensure_postgres
ensure_redis
ulimit -n 65536 2>/dev/null || true
RUST_LOG="${RUST_LOG:-warn}" cargo bench --bench live
