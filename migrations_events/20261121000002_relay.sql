-- Where the outbox relay has got to in the global log: everything up to here reached the broker.
CREATE TABLE relay_checkpoints (
    relay          TEXT PRIMARY KEY,
    transaction_id BIGINT NOT NULL DEFAULT 0,
    position       BIGINT NOT NULL DEFAULT 0,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
