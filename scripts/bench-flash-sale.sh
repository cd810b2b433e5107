#!/usr/bin/env bash
# A flash sale over HTTP against the release server (one and two instances), with the references
# measured in the same run (pgbench -N, a bare axum handler, /health). Numbers go into
# PERFORMANCE.md; the report is also written to target-dir/flash-sale-report.md.
# Usage: scripts/bench-flash-sale.sh   (see benches/flash_sale/main.rs for the settings)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_rust
ensure_postgres
ensure_redis
# 10,000 buyers hold 10,000 connections open: the harness and the server each need the files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export GIT_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo '+dirty')"
RUST_LOG="${RUST_LOG:-warn}" cargo bench --bench flash_sale | tee "$CARGO_TARGET_DIR/flash-sale-report.md"
