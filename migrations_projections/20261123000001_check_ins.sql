-- When each ticket was first let in at the door (NULL: not yet).
ALTER TABLE tickets ADD COLUMN checked_in_at TIMESTAMPTZ;
CREATE INDEX tickets_event ON tickets (event_id);
-- An event's orders, newest first (the organiser's order list).
CREATE INDEX reservations_event_created ON reservations (event_id, created_at DESC);
