-- The event log loses its index on `position` alone (its primary key), which no reader uses:
-- readers of the global log walk (transaction_id, position) (`events_global_order`), and
-- readers of a stream walk (stream_id, version) (`events_stream_version`). Every event paid for
-- the third index: in a flash sale a hold writes three events, and this index was 4 % of a
-- hold's WAL and one of its three B-tree inserts per event (PERFORMANCE.md).
--
-- `position` stays unique: it is an identity column (GENERATED ALWAYS), drawn from a sequence.
-- The event's key is (stream_id, version), the constraint that has always refused a second
-- writer; it becomes the replica identity a primary key would have been.
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events REPLICA IDENTITY USING INDEX events_stream_version;
