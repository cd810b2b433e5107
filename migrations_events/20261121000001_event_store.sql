-- The event log: the source of truth for every aggregate.
CREATE TABLE events (
    -- Global position. Identity values are handed out before commit, so a reader must not assume
    -- that every position below the highest committed one is already visible: see transaction_id.
    position       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction. Readers of the global log only read transactions older than the
    -- oldest one still running (pg_snapshot_xmin), in (transaction_id, position) order, so an
    -- event whose transaction commits late is never skipped.
    transaction_id XID8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id      TEXT NOT NULL,
    version        BIGINT NOT NULL CHECK (version > 0),
    event_type     TEXT NOT NULL,
    event_version  SMALLINT NOT NULL CHECK (event_version > 0),
    payload        BYTEA NOT NULL,
    -- correlation_id, causation_id, command_id, user_id
    metadata       JSONB NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- The last line of defence against two writers deciding from the same state.
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);

CREATE INDEX events_global_order ON events (transaction_id, position);

-- Latest state per stream, so loading a long stream is snapshot + tail.
CREATE TABLE snapshots (
    stream_id        TEXT PRIMARY KEY,
    version          BIGINT NOT NULL,
    -- Bumped whenever the state's shape changes; a snapshot of another shape is ignored.
    snapshot_version SMALLINT NOT NULL,
    state            BYTEA NOT NULL,
    taken_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Work that must happen because of recorded events, written in the same transaction as them:
--   command  a command for another aggregate (due now) or a timer (due later)
--   charge   a card charge whose outcome must be recorded (reconciled with the gateway if the
--            process that started it died)
--   refund   money to return at the gateway (idempotent by refund id)
-- A row is deleted in the same transaction that carries it out, so it happens once in effect.
CREATE TABLE effects (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('command', 'charge', 'refund')),
    target_stream  TEXT NOT NULL,
    payload        BYTEA NOT NULL,
    due_at         TIMESTAMPTZ NOT NULL,
    -- Held by whoever is carrying the row out; an expired lease means its holder died.
    leased_until   TIMESTAMPTZ,
    attempts       INT NOT NULL DEFAULT 0,
    last_error     TEXT,
    -- Set after too many failed attempts: kept for an operator, no longer retried.
    failed_at      TIMESTAMPTZ,
    correlation_id UUID NOT NULL,
    causation_id   UUID NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX effects_due ON effects (due_at) WHERE failed_at IS NULL;

-- The built-in payment gateway simulator's own ledger. A real processor keeps this on its side;
-- the simulator keeps it here so that it survives restarts and is shared by every instance,
-- like a real processor would be.
CREATE TABLE gateway_simulator_charges (
    payment_id   UUID PRIMARY KEY,
    -- captured | declined | voided
    status       TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    card_last4   TEXT,
    reason       TEXT,
    reference    TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE gateway_simulator_refunds (
    refund_id    UUID PRIMARY KEY,
    payment_id   UUID NOT NULL REFERENCES gateway_simulator_charges (payment_id),
    amount_cents BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
