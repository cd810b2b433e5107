-- A stream many buyers write (an event, its inventory) may be appended to by several processes.
-- One that lost a race takes turns: it holds a session advisory lock on the stream while it
-- catches up, decides and commits. An optimistic append from another process must not slip in
-- between, or the turn holder loses again and again (found by the flash-sale harness: a batch
-- gave up after 20 lost races with two instances). So an optimistic append first takes the
-- stream's lock shared for its transaction, without waiting: if someone holds the turn, it fails
-- as a lost race (serialization_failure, which the store reads as such) and takes turns itself.
-- The key is the one the turn holder locks: hashtextextended(stream, 0).
CREATE FUNCTION streams_not_in_turn(streams text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    stream text;
BEGIN
    FOREACH stream IN ARRAY streams LOOP
        IF NOT pg_try_advisory_xact_lock_shared(hashtextextended(stream, 0)) THEN
            RAISE EXCEPTION 'another process holds its turn on stream %', stream
                USING ERRCODE = 'serialization_failure';
        END IF;
    END LOOP;
    RETURN true;
END
$$;
