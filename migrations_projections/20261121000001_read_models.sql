-- Read models. Each table is fed by the events of one stream type, so per-stream order (which
-- both the in-process bus and Kafka keys guarantee) is all a projector needs; reads join.

-- Where each projector has got to in the global log (in-process source) ...
CREATE TABLE projector_checkpoints (
    projector      TEXT PRIMARY KEY,
    transaction_id BIGINT NOT NULL DEFAULT 0,
    position       BIGINT NOT NULL DEFAULT 0,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ... and, whatever the source, the last version of each stream it applied: a redelivered event
-- (version <= this) is skipped, so at-least-once delivery has exactly-once effect.
CREATE TABLE projector_streams (
    projector TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    version   BIGINT NOT NULL,
    PRIMARY KEY (projector, stream_id)
);

-- events catalogue (event streams)
CREATE TABLE events_catalogue (
    event_id       UUID PRIMARY KEY,
    name           TEXT NOT NULL,
    starts_at      TIMESTAMPTZ NOT NULL,
    category       TEXT NOT NULL,
    venue_name     TEXT NOT NULL,
    venue_city     TEXT,
    venue_country  TEXT,
    status         TEXT NOT NULL,
    -- Once published, an event is public (even if later cancelled); a draft never is.
    published      BOOLEAN NOT NULL DEFAULT false,
    -- [{name, capacity, seating, rows, seats_per_row, base_price_cents}]
    sections       JSONB NOT NULL,
    cancellation_reason TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_catalogue_status_date ON events_catalogue (status, starts_at);

-- availability per section, and per seat for numbered sections (inventory streams)
CREATE TABLE section_availability (
    event_id       UUID NOT NULL,
    section        TEXT NOT NULL,
    seating        TEXT NOT NULL,
    total_capacity INT NOT NULL,
    available      INT NOT NULL,
    reserved       INT NOT NULL,
    sold           INT NOT NULL,
    last_updated   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (event_id, section),
    CHECK (available >= 0 AND reserved >= 0 AND sold >= 0 AND available + reserved + sold = total_capacity)
);

CREATE TABLE seat_status (
    event_id       UUID NOT NULL,
    section        TEXT NOT NULL,
    position       INT NOT NULL,
    label          TEXT NOT NULL,
    -- available | reserved | sold
    status         TEXT NOT NULL,
    reservation_id UUID,
    PRIMARY KEY (event_id, section, position)
);

-- which seats each hold has, so sold/released events (which name only the reservation) can
-- update counts and seats
CREATE TABLE inventory_holds (
    event_id       UUID NOT NULL,
    reservation_id UUID NOT NULL,
    section        TEXT NOT NULL,
    positions      INT[] NOT NULL,
    -- held | sold | released | returned
    status         TEXT NOT NULL,
    PRIMARY KEY (event_id, reservation_id)
);

-- reservations, with their tickets (reservation streams)
CREATE TABLE reservations (
    reservation_id     UUID PRIMARY KEY,
    event_id           UUID NOT NULL,
    customer_id        UUID NOT NULL,
    section            TEXT NOT NULL,
    quantity           INT NOT NULL,
    -- [{seat_id, seat_number}]
    seats              JSONB NOT NULL DEFAULT '[]',
    pricing_tier       TEXT,
    unit_price_cents   BIGINT,
    total_amount_cents BIGINT NOT NULL DEFAULT 0,
    captured_cents     BIGINT NOT NULL DEFAULT 0,
    refunded_cents     BIGINT NOT NULL DEFAULT 0,
    status             TEXT NOT NULL,
    failure            TEXT,
    expires_at         TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    completed_at       TIMESTAMPTZ,
    payment_id         UUID,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX reservations_customer ON reservations (customer_id, created_at DESC);
CREATE INDEX reservations_event ON reservations (event_id);

CREATE TABLE tickets (
    ticket_id      UUID PRIMARY KEY,
    reservation_id UUID NOT NULL,
    event_id       UUID NOT NULL,
    section        TEXT NOT NULL,
    seat_id        UUID NOT NULL,
    seat_number    TEXT,
    owner_id       UUID NOT NULL,
    -- valid | void
    status         TEXT NOT NULL,
    issued_at      TIMESTAMPTZ NOT NULL,
    transferred_at TIMESTAMPTZ
);
CREATE INDEX tickets_owner ON tickets (owner_id);

-- payments (payment streams)
CREATE TABLE payments (
    payment_id     UUID PRIMARY KEY,
    reservation_id UUID NOT NULL,
    customer_id    UUID NOT NULL,
    amount_cents   BIGINT NOT NULL,
    refunded_cents BIGINT NOT NULL DEFAULT 0,
    status         TEXT NOT NULL,
    card_last4     TEXT,
    decline_reason TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX payments_reservation ON payments (reservation_id);

-- customer history and lifetime value (reservation streams)
CREATE TABLE customer_purchases (
    reservation_id UUID PRIMARY KEY,
    customer_id    UUID NOT NULL,
    event_id       UUID NOT NULL,
    section        TEXT NOT NULL,
    quantity       INT NOT NULL,
    amount_cents   BIGINT NOT NULL,
    refunded_cents BIGINT NOT NULL DEFAULT 0,
    status         TEXT NOT NULL,
    purchased_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX customer_purchases_customer ON customer_purchases (customer_id, purchased_at DESC);

CREATE TABLE customer_lifetime_value (
    customer_id          UUID PRIMARY KEY,
    purchases            INT NOT NULL,
    tickets              INT NOT NULL,
    spent_cents          BIGINT NOT NULL,
    refunded_cents       BIGINT NOT NULL,
    first_purchase_at    TIMESTAMPTZ NOT NULL,
    last_purchase_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE customer_sections (
    customer_id UUID NOT NULL,
    event_id    UUID NOT NULL,
    section     TEXT NOT NULL,
    tickets     INT NOT NULL,
    PRIMARY KEY (customer_id, event_id, section)
);

-- sales analytics per event (reservation streams)
CREATE TABLE sales_by_tier (
    event_id      UUID NOT NULL,
    section       TEXT NOT NULL,
    pricing_tier  TEXT NOT NULL,
    tickets_sold  INT NOT NULL,
    revenue_cents BIGINT NOT NULL,
    refunds_cents BIGINT NOT NULL,
    tickets_refunded INT NOT NULL,
    PRIMARY KEY (event_id, section, pricing_tier)
);

-- what the sales projector needs to know about a reservation before it becomes a sale
CREATE TABLE sales_pending (
    reservation_id   UUID PRIMARY KEY,
    event_id         UUID NOT NULL,
    section          TEXT NOT NULL,
    quantity         INT NOT NULL,
    pricing_tier     TEXT,
    unit_price_cents BIGINT,
    completed        BOOLEAN NOT NULL DEFAULT false,
    -- the payment that bought the tickets: refunds of any other payment are not sales refunds
    payment_id       UUID
);
