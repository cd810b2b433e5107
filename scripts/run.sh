#!/usr/bin/env bash
# Sets up what is missing (PostgreSQL, Redis), migrates, seeds the demo event, and serves the API
# on :8080 (HTTP_ADDR to change it). Ctrl-C stops it cleanly.
#
# Sign in as an admin: the first line printed below is a one-time link for ADMIN_EMAIL
# (default admin@localhost.test); customers ask for a link at POST /api/auth/magic-link/send.
# Without SMTP, mails land in ./mail-outbox.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust
ensure_build_tools
ensure_postgres
ensure_redis

log "building"
cargo build --release --bin ticketing
bin="$CARGO_TARGET_DIR/release/ticketing"

export ADMIN_EMAILS="${ADMIN_EMAILS:-admin@localhost.test}"
log "migrating"
"$bin" migrate
log "seeding the demo event"
"$bin" seed-demo
admin="${ADMIN_EMAILS%%,*}"
log "one-time admin sign-in link for $admin (POST its token to /api/auth/magic-link/verify):"
"$bin" bootstrap-admin --email "$admin"

cat <<'MSG'

Serving the API on http://localhost:8080 (try /health/ready and /api/events).
Not there yet: the Svelte SPA, WebSocket availability feed, OAuth, passkeys, idempotency keys,
OpenAPI, /metrics.
MSG
exec "$bin" serve
