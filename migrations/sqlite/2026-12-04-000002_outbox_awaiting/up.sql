-- Which tenants have events awaiting delivery (see migrations/postgres,
-- same name; SQLite has no row-level security to open).
CREATE INDEX outbox_awaiting ON outbox (tenant_id, created_at, next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL;
