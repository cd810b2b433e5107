-- Contract step. Since 1a97d2a the ETL takes a sale's event, buyer, section, tier and price from
-- the reservation's stream when the sale completes; nothing reads or writes this staging table.
-- An instance of a release before 1a97d2a cannot run beside this one (RUNBOOK, "Databases and
-- schema").
DROP TABLE IF EXISTS stg_reservations;
