-- Contract step. Since 1a97d2a the notifications projector reads a mail's buyer and event from
-- the reservation's first event in the log; nothing reads or writes this table. An instance of
-- a release before 1a97d2a cannot run beside this one (RUNBOOK, "Databases and schema").
DROP TABLE IF EXISTS mail_reservations;
