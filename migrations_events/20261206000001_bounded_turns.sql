-- A writer that lost a race on a stream takes turns on it (src/runtime/writer.rs): a
-- session-level advisory lock, held while it catches up, decides and commits on other
-- connections. Unbounded, a turn could stall a sale: a waiter behind a holder that never lets
-- go (a process frozen, or cut off from the database while its connection stays open until TCP
-- keepalive gives up, two hours by default) waits as long, and so does every buyer behind it.
--
-- take_stream_turn waits at most `wait_ms` (then fails with 55P03 lock_not_available, and the
-- failed statement leaves the session's settings as they were); once the turn is taken, the
-- session is ended by the server if it stays idle for `idle_limit_ms` (the holder works on other
-- connections meanwhile, so only a holder that stopped working leaves it that long), which
-- releases the lock. end_stream_turn ends a turn and the idle limit with it.
CREATE FUNCTION take_stream_turn(stream text, wait_ms integer, idle_limit_ms integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('lock_timeout', wait_ms::text, false);
    PERFORM pg_advisory_lock(hashtextextended(stream, 0));
    RESET lock_timeout;
    PERFORM set_config('idle_session_timeout', idle_limit_ms::text, false);
END
$$;

CREATE FUNCTION end_stream_turn(stream text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RESET idle_session_timeout;
    RETURN pg_advisory_unlock(hashtextextended(stream, 0));
END
$$;
