-- Who and what caused an event, as four uuid columns: 64 bytes a row instead of a JSONB object of
-- about 230 that PostgreSQL parses on every insert (a flash sale writes three events a hold, and
-- this object was nearly half of each row's WAL), and nothing for the server to build or parse.
--
-- Expand step of an expand/contract change. Rows written before keep their JSONB, and readers
-- take the columns when they are set, the JSONB otherwise. New rows store '{}' there (the
-- default), so an instance still on the previous release reads them during a rolling upgrade;
-- it loses only their correlation id, which it used for a Kafka header. The contract step
-- (copy old rows' JSONB into the columns, then drop it) can come once no such instance is left.
ALTER TABLE events
    ADD COLUMN correlation_id UUID,
    ADD COLUMN causation_id   UUID,
    ADD COLUMN command_id     UUID,
    ADD COLUMN user_id        UUID,
    ALTER COLUMN metadata SET DEFAULT '{}';
