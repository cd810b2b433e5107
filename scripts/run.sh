#!/usr/bin/env bash
# Sets up what is missing (PostgreSQL, Redis), builds the web app when web/ changed, migrates,
# seeds the demo event, and serves the app and the API on :8080 (HTTP_ADDR to change it).
# Ctrl-C stops it cleanly.
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

build_web_if_stale
log "building the server"
cargo build --release --bin ticketing
bin="$CARGO_TARGET_DIR/release/ticketing"
export STATIC_DIR="${STATIC_DIR:-$PWD/static}"

export ADMIN_EMAILS="${ADMIN_EMAILS:-admin@localhost.test}"
log "migrating"
"$bin" migrate
log "seeding the demo event"
"$bin" seed-demo
admin="${ADMIN_EMAILS%%,*}"
log "one-time admin sign-in link for $admin (open it in a browser):"
"$bin" bootstrap-admin --email "$admin"

cat <<'MSG'

Serving the web app and the API on http://localhost:8080 (try /, /health/ready, /api/events).
Operators' metrics: http://127.0.0.1:9090/metrics. Mail goes to ./mail-outbox without SMTP_URL.
MSG
exec "$bin" serve
