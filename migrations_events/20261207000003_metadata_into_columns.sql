-- no-transaction
-- Contract step of 20261207000001_typed_event_metadata, first half: every row written before
-- the typed columns gets its causes copied from its JSONB into them, and this release reads the
-- columns only. The release before this one (d92898b) already writes the columns, so no row
-- without them is written once this has run. The JSONB column itself goes in a later release:
-- the previous one still names it when it reads, and may run beside this one in a rolling deploy.
--
-- The copy commits every 5,000 rows (hence no transaction around the migration, and one DO
-- statement: transaction control is allowed only there). One long transaction over a large log
-- would hold back every reader of the global log, which reads only transactions older than the
-- oldest one running; short ones hold them back by a moment each. If the migration stops half
-- way, it starts again from the beginning and skips the rows already copied.
--
-- Every row was written with serde's hyphenated uuids. A row whose JSON lacks one of the three
-- ids, or holds one in another form, keeps NULL in the columns and reads as "no metadata". A
-- user_id in another form is left out (the JSON reader dropped the whole metadata then).
DO $$
DECLARE
    is_uuid   CONSTANT TEXT := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
    after_tx  XID8   := '0';
    after_pos BIGINT := 0;
BEGIN
    LOOP
        -- Walks the log in its global order (the index events_global_order), 5,000 rows
        -- without typed columns at a time.
        WITH batch AS (
            SELECT transaction_id, position, metadata
              FROM events
             WHERE (transaction_id, position) > (after_tx, after_pos)
               AND correlation_id IS NULL
             ORDER BY transaction_id, position
             LIMIT 5000
        ), copied AS (
            UPDATE events e
               SET correlation_id = (b.metadata->>'correlation_id')::uuid,
                   causation_id   = (b.metadata->>'causation_id')::uuid,
                   command_id     = (b.metadata->>'command_id')::uuid,
                   user_id        = CASE WHEN b.metadata->>'user_id' ~ is_uuid
                                         THEN (b.metadata->>'user_id')::uuid END
              FROM batch b
             WHERE e.transaction_id = b.transaction_id
               AND e.position = b.position
               AND b.metadata->>'correlation_id' ~ is_uuid
               AND b.metadata->>'causation_id' ~ is_uuid
               AND b.metadata->>'command_id' ~ is_uuid
        )
        SELECT transaction_id, position INTO after_tx, after_pos
          FROM batch
         ORDER BY transaction_id DESC, position DESC
         LIMIT 1;
        EXIT WHEN NOT FOUND;
        COMMIT;
    END LOOP;
END
$$;
