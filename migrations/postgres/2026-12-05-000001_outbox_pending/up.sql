-- A dispatcher round asks which tenants have events it may still deliver
-- by walking the distinct tenants of the partial indexes below (a loose
-- index scan), so that a round costs O(tenants with something pending),
-- not O(tenants with a webhook). Events that will never be delivered —
-- created while their tenant had no webhook, or before its webhook's
-- `since` — would stay in those indexes forever: the dispatcher passes
-- them over (`passed_at`), and they stay listed for polling.
ALTER TABLE outbox ADD COLUMN passed_at timestamptz;
DROP INDEX outbox_awaiting;
CREATE INDEX outbox_awaiting ON outbox (tenant_id, created_at) INCLUDE (next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL AND passed_at IS NULL;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (tenant_id, next_attempt_at)
    WHERE published_at IS NULL AND dead_at IS NULL AND passed_at IS NULL;
-- The tenants with an event dead-lettered lately (another dispatcher's
-- turn), whose dead-letter gauge this process must count again.
CREATE INDEX outbox_dead_lately ON outbox (dead_at) INCLUDE (tenant_id) WHERE dead_at IS NOT NULL;
