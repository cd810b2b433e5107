-- The group commit deletes the effects rows its write sets carried out and must fail as a whole
-- if any of them is gone (another process carried it out first). Checked inside the statement,
-- the group is one round trip (an implicit transaction) instead of BEGIN, statement, COMMIT.
-- serialization_failure (40001) is what the store already reads as "lost a race".
CREATE FUNCTION effects_all_consumed(deleted bigint, expected bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF deleted <> expected THEN
        RAISE EXCEPTION 'an effects row this write carries out is gone (% of % left)', deleted, expected
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN deleted;
END
$$;
