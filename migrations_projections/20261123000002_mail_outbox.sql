-- Mail buyers expect (order confirmations, declined payments, expired holds, refunds, tickets
-- received, cancelled events), written by the notifications projector in the transaction that
-- moves its checkpoint, and sent by one sender (retried while SMTP is down). `dedupe_key`
-- (event stream, version, recipient) makes a replay or a redelivery write nothing new, so each
-- mail goes out once per event and recipient. Rebuilding read models never empties this table.
CREATE TABLE mail_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key      TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    recipient_id    UUID NOT NULL,
    reservation_id  UUID NOT NULL,
    event_id        UUID,
    data            JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INT NOT NULL DEFAULT 0,
    last_error      TEXT,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- Whose reservation a stream is (from its first event), for the mails its later events cause.
CREATE TABLE mail_reservations (
    reservation_id UUID PRIMARY KEY,
    customer_id    UUID NOT NULL,
    event_id       UUID NOT NULL,
    section        TEXT NOT NULL
);
