DROP INDEX outbox_keyset;
DROP INDEX outbox_due;
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
ALTER TABLE outbox DROP COLUMN dead_at;
ALTER TABLE outbox DROP COLUMN last_error;
ALTER TABLE outbox DROP COLUMN next_attempt_at;
ALTER TABLE outbox DROP COLUMN attempts;
