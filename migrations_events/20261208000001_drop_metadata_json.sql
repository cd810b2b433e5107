-- Contract step of 20261207000001: the JSONB `metadata` goes. Since 20261207000003 copied the
-- causes of older rows into the typed columns, no release reads it (the release before this one
-- neither reads nor names it; new rows have stored '{}' there by its default), so an instance of
-- that release still running during a rolling deploy keeps working.
--
-- Dropping a column changes only the catalogue (rows keep their bytes until rewritten), but it
-- takes the table's ACCESS EXCLUSIVE lock: behind a long transaction it would queue every append
-- behind it. So it waits at most 5 s and fails the migration instead; the release command is
-- run again later.
SET LOCAL lock_timeout = '5s';
ALTER TABLE events DROP COLUMN metadata;
