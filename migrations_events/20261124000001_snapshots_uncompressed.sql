-- A hot inventory's snapshot is megabytes of seat states and ids that compress poorly: pglz
-- spent more CPU on them than anything else in PostgreSQL during an on-sale. Keep them
-- out of line, uncompressed.
ALTER TABLE snapshots ALTER COLUMN state SET STORAGE EXTERNAL;
