-- A hold's row is inserted when it starts and updated moments later when its seats are priced
-- (then again when it is paid or expires). Pages filled to the brim left no room for the new
-- version, so most of those updates were not HOT and wrote a new entry into every index of the
-- table (reservations has four): in a flash sale only 17 % of the reservations' updates were
-- HOT (pg_stat_user_tables, 35,000 holds). Room left on each page keeps them on it.
ALTER TABLE reservations SET (fillfactor = 70);
ALTER TABLE sales_pending SET (fillfactor = 70);
