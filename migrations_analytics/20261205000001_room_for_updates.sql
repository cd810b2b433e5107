-- As in the read models: a staged reservation is inserted when its hold starts and updated when
-- its seats are priced; room left on each page keeps that update HOT (no new index entry).
ALTER TABLE stg_reservations SET (fillfactor = 70);
