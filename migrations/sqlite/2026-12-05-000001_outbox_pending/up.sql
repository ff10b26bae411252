-- Events the dispatcher passed over, and the indexes of what it may still
-- deliver (see migrations/postgres, same name).
ALTER TABLE outbox ADD COLUMN passed_at INTEGER;
DROP INDEX outbox_awaiting;
CREATE INDEX outbox_awaiting ON outbox (tenant_id, created_at, next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL AND passed_at IS NULL;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (tenant_id, next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL AND passed_at IS NULL;
CREATE INDEX outbox_dead_lately ON outbox (dead_at, tenant_id) WHERE dead_at IS NOT NULL;
