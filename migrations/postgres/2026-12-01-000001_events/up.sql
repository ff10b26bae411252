-- Delivery state of the events outbox: each event is delivered to the
-- tenant's webhook at least once, retried with backoff, dead-lettered after
-- the last attempt, and kept for polling (`GET /api/v1/events`).
ALTER TABLE outbox
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN last_error      text,
    ADD COLUMN dead_at         timestamptz;
DROP INDEX outbox_unpublished;
-- What the dispatcher claims: undelivered, alive, due.
CREATE INDEX outbox_due ON outbox (tenant_id, next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL;
-- What pollers page through.
CREATE INDEX outbox_keyset ON outbox (tenant_id, created_at, id);
