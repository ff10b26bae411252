-- Counting a tenant's dead letters (the outbox gauges) without a scan.
CREATE INDEX outbox_dead ON outbox (tenant_id, created_at) WHERE dead_at IS NOT NULL;
