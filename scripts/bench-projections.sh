#!/usr/bin/env bash
# Events per second through relay → bus → read models, and lag under sustained writes.
# Numbers go into PERFORMANCE.md.
# Usage: scripts/bench-projections.sh   (HOLDS=10000 SECONDS=20 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_rust
ensure_build_tools
ensure_postgres
ensure_tansu
cargo bench --bench projections
