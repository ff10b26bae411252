-- The event dispatcher asks once per round which tenants with a webhook
-- have undelivered events (awaiting, due, dead), on the platform path,
-- instead of claiming and counting for every tenant: that path may read the
-- outbox rows not delivered, no others.
CREATE POLICY platform_reads_undelivered ON outbox FOR SELECT
    USING (coffer_platform() AND published_at IS NULL);
-- A tenant's undelivered, live events from its webhook's `since` on: the
-- question above probes it once per tenant (an empty range for a tenant
-- with nothing awaiting, however many events it had before its webhook).
CREATE INDEX outbox_awaiting ON outbox (tenant_id, created_at) INCLUDE (next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL;
