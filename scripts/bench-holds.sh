#!/usr/bin/env bash
# Holds per second on one hot section through the runtime into the local PostgreSQL,
# with batching on and off. Numbers go into PERFORMANCE.md.
# Usage: scripts/bench-holds.sh   (HOLDS=20000 BUYERS=256 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_rust
ensure_postgres
cargo bench --bench holds
