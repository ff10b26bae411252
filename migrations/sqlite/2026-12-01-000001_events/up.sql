-- Delivery state of the events outbox (see migrations/postgres, same name).
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN dead_at INTEGER;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_due ON outbox (tenant_id, next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_keyset ON outbox (tenant_id, created_at, id);
