#!/usr/bin/env bash
# Contract fuzzing: schemathesis against /api/openapi.json of a real server (fresh databases,
# the shared Redis under its own prefix), signed in as a customer and as an admin. Every
# operation, every check: no 5xx, no answer outside its schema, no schema-valid request
# refused, no missing credential answered with anything but 401.
#   scripts/fuzz-api.sh                      # what CI runs (FUZZ_EXAMPLES=15 per operation)
#   FUZZ_EXAMPLES=500 scripts/fuzz-api.sh    # the nightly run
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

EXAMPLES="${FUZZ_EXAMPLES:-15}"
SCHEMATHESIS_VERSION="4.32.5"
if ! schemathesis --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI)"
  python3 -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
bin="${TICKETING_BIN:-$CARGO_TARGET_DIR/debug/ticketing}"
[ -x "$bin" ] || cargo build --bin ticketing

suffix="fuzz_$$_$(date +%s)"
pg="postgres://postgres@127.0.0.1:5432"
outbox="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  for kind in events projections analytics auth; do
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS ticketing_${kind}_$suffix WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$outbox"
}
trap cleanup EXIT

# Limits that protect a real sale (per-address sign-in and hold rates) would turn a fuzzer's
# thousands of requests from one address into 429s: lifted here, tested elsewhere.
HTTP_ADDR="127.0.0.1:$port" METRICS_ADDR="127.0.0.1:0" \
  DATABASE_URL_EVENTS="$pg/ticketing_events_$suffix" \
  DATABASE_URL_PROJECTIONS="$pg/ticketing_projections_$suffix" \
  DATABASE_URL_ANALYTICS="$pg/ticketing_analytics_$suffix" \
  DATABASE_URL_AUTH="$pg/ticketing_auth_$suffix" \
  DATABASE_MAX_CONNECTIONS=5 REDIS_PREFIX="ticketing_$suffix:" MAIL_OUTBOX_DIR="$outbox" \
  ADMIN_EMAILS="admin@fuzz.test" AUTH_RATE_LIMIT=1000000 MAGIC_LINKS_PER_ADDRESS=1000000 \
  RESERVATION_RATE_LIMIT=1000000 MAX_HELD_SEATS_PER_CUSTOMER=250 \
  RUST_LOG=warn KAFKA_BROKERS="" SMTP_URL="" \
  "$bin" serve 2>"$outbox/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$base/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$base/health/ready" >/dev/null || { cat "$outbox/server.log"; log "the server did not start"; exit 1; }

sign_in() {
  curl -fs -X POST "$base/api/auth/magic-link/send" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\"}" >/dev/null
  local token=""
  for _ in $(seq 1 50); do
    token="$(grep -h "^To: $1" -A40 "$outbox"/*.eml 2>/dev/null | grep -m1 '^Token: ' | cut -d' ' -f2 | tr -d '\r' || true)"
    [ -n "$token" ] && break
    sleep 0.1
  done
  curl -fs -X POST "$base/api/auth/magic-link/verify" -H 'content-type: application/json' \
    -d "{\"token\":\"$token\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session_token"])'
}
customer="$(sign_in customer@fuzz.test)"
admin="$(sign_in admin@fuzz.test)"

# One process per role, one worker each: CPython 3.11's ast module keeps its recursion counter
# per interpreter, so hypothesis describing strategies in two threads at once can fail with
# "SystemError: AST constructor recursion depth mismatch" (cpython#106905; it failed CI once).
# Two processes keep both cores busy without sharing an interpreter.
run() {
  local who="$1" token="$2"
  schemathesis --no-color run "$base/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all --exclude-checks use_after_free,ensure_resource_availability \
    --max-examples "$EXAMPLES" --seed 20261121 --workers 1 \
    --suppress-health-check all --generation-database none \
    --request-timeout 15 --warnings off >"$outbox/fuzz-$who.log" 2>&1
}
log "schemathesis as customer and as admin at once: $EXAMPLES examples per operation"
run customer "$customer" & customer_run=$!
run admin "$admin" & admin_run=$!
failed=0
wait "$customer_run" || failed=1
wait "$admin_run" || failed=1
for who in customer admin; do
  log "schemathesis as $who:"
  cat "$outbox/fuzz-$who.log"
done
[ "$failed" = 0 ] || { log "contract fuzzing failed (see above)"; exit 1; }
log "contract fuzzing: no failure"
