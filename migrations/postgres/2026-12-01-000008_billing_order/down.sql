DROP INDEX billing_events_stream;
ALTER TABLE billing_events DROP COLUMN stream;
