#!/usr/bin/env bash
# The soak run (not in CI): SOAK_MINUTES (10) of mixed traffic against the release server:
# each minute BUYERS (2,000) people browse, hold, pay, cancel or walk away on a fresh event while
# availability sockets pile up (50 more each minute). Prints per minute the requests, p99, errors,
# resident memory and open files: a leak is a climb from the first minute to the last.
#   scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SCENARIOS=soak BUYERS="${BUYERS:-2000}" SOAK_MINUTES="${SOAK_MINUTES:-10}"
exec bash scripts/bench-flash-sale.sh
