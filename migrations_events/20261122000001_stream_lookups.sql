-- Ids that find their stream, written in the transaction that appends the event naming them
-- (a ticket id finds its reservation). Commands use it: they never depend on a read model to
-- find what they act on.
CREATE TABLE stream_lookups (
    kind      TEXT NOT NULL,
    key       UUID NOT NULL,
    stream_id TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
