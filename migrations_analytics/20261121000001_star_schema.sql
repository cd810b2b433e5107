-- The analytics star schema, fed by its own ETL consumer and rebuildable from the log.

CREATE TABLE projector_checkpoints (
    projector      TEXT PRIMARY KEY,
    transaction_id BIGINT NOT NULL DEFAULT 0,
    position       BIGINT NOT NULL DEFAULT 0,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE projector_streams (
    projector TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    version   BIGINT NOT NULL,
    PRIMARY KEY (projector, stream_id)
);

-- What a reservation was, until it becomes a sale (or not).
CREATE TABLE stg_reservations (
    reservation_id   UUID PRIMARY KEY,
    event_id         UUID NOT NULL,
    customer_id      UUID NOT NULL,
    section          TEXT NOT NULL,
    quantity         INT NOT NULL,
    pricing_tier     TEXT,
    unit_price_cents BIGINT,
    reserved_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE dim_calendar (
    date_id     INT PRIMARY KEY,  -- YYYYMMDD
    date        DATE NOT NULL,
    year        INT NOT NULL,
    quarter     INT NOT NULL,
    month       INT NOT NULL,
    week        INT NOT NULL,
    day_of_week INT NOT NULL,     -- 1 = Monday
    day_name    TEXT NOT NULL,
    is_weekend  BOOLEAN NOT NULL
);

CREATE TABLE dim_events (
    event_id       UUID PRIMARY KEY,
    event_name     TEXT NOT NULL,
    venue_name     TEXT NOT NULL,
    venue_city     TEXT,
    venue_country  TEXT,
    event_date     DATE NOT NULL,
    event_category TEXT NOT NULL,
    total_capacity INT NOT NULL,
    status         TEXT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE dim_customers (
    customer_id             UUID PRIMARY KEY,
    first_purchase_at       TIMESTAMPTZ NOT NULL,
    last_purchase_at        TIMESTAMPTZ NOT NULL,
    purchases               INT NOT NULL,
    total_tickets_purchased INT NOT NULL,
    lifetime_value_cents    BIGINT NOT NULL
);

-- One row per paid reservation.
CREATE TABLE fact_ticket_sales (
    reservation_id     UUID PRIMARY KEY,
    event_id           UUID NOT NULL REFERENCES dim_events (event_id),
    customer_id        UUID NOT NULL REFERENCES dim_customers (customer_id),
    date_id            INT NOT NULL REFERENCES dim_calendar (date_id),
    time_id            INT NOT NULL,  -- HHMMSS
    payment_id         UUID NOT NULL,
    section            TEXT NOT NULL,
    pricing_tier       TEXT NOT NULL,
    quantity           INT NOT NULL,
    unit_price_cents   BIGINT NOT NULL,
    total_amount_cents BIGINT NOT NULL,
    refunded_cents     BIGINT NOT NULL DEFAULT 0,
    is_refunded        BOOLEAN NOT NULL DEFAULT false,
    reserved_at        TIMESTAMPTZ NOT NULL,
    confirmed_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX fact_sales_event_date ON fact_ticket_sales (event_id, date_id);
CREATE INDEX fact_sales_customer ON fact_ticket_sales (customer_id, date_id);
CREATE INDEX fact_sales_section ON fact_ticket_sales (section, event_id);

CREATE MATERIALIZED VIEW mv_daily_sales AS
SELECT date_id,
       event_id,
       sum(quantity)::bigint                          AS tickets_sold,
       sum(total_amount_cents - refunded_cents)::bigint AS revenue_cents,
       (sum(total_amount_cents) / NULLIF(sum(quantity), 0))::bigint AS avg_price_cents,
       count(DISTINCT customer_id)::bigint            AS unique_customers
FROM fact_ticket_sales
GROUP BY date_id, event_id;
CREATE UNIQUE INDEX mv_daily_sales_key ON mv_daily_sales (date_id, event_id);
