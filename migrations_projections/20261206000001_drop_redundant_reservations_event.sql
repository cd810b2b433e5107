-- reservations_event (event_id) is a prefix of reservations_event_created (event_id, created_at
-- DESC), which serves every query by event (an event's orders, what cancelling it would refund)
-- as well. Kept, it was one more index entry written for every hold a flash sale starts, and for
-- each of its updates that is not HOT.
DROP INDEX reservations_event;
