# syntax=docker/dockerfile:1.7
# The ticketing server in one image: the web app (built with Node), the binary (built with
# cargo), and a slim non-root runtime with the static files and the migrations.
#   docker build -t ticketing .
#   docker run --env-file .env -p 8080:8080 ticketing

# --- the web app: SvelteKit static build into /src/static -------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- the server binary ------------------------------------------------------------------
# The full Debian image already carries what the bundled librdkafka and OpenSSL need
# (gcc, make, perl, pkg-config, libssl-dev, zlib1g-dev).
FROM rust:1.95-bookworm AS server
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ticketing \
    && cp target/release/ticketing /usr/local/bin/ticketing

# --- runtime ----------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ticketing \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin ticketing \
    && mkdir -p /app/mail-outbox \
    && chown ticketing /app/mail-outbox
WORKDIR /app
COPY --from=server /usr/local/bin/ticketing /usr/local/bin/ticketing
COPY --from=web /src/static /app/static
# Embedded in the binary (sqlx::migrate!); kept beside it for operators who read them.
COPY migrations_events /app/migrations/events
COPY migrations_projections /app/migrations/projections
COPY migrations_analytics /app/migrations/analytics
COPY migrations_auth /app/migrations/auth
ENV HTTP_ADDR=0.0.0.0:8080 \
    METRICS_ADDR=0.0.0.0:9090 \
    STATIC_DIR=/app/static \
    MAIL_OUTBOX_DIR=/app/mail-outbox \
    LOG_FORMAT=json \
    RUST_LOG=info
USER 10001:10001
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["ticketing", "healthcheck"]
# SIGTERM drains: in-flight requests finish, the worker hands its leases back.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ticketing"]
CMD ["serve"]
