DROP INDEX outbox_dead_lately;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (tenant_id, next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL;
DROP INDEX outbox_awaiting;
CREATE INDEX outbox_awaiting ON outbox (tenant_id, created_at) INCLUDE (next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL;
ALTER TABLE outbox DROP COLUMN passed_at;
