-- Billing events from the payment provider (docs/billing.md): each event id
-- is recorded once, in the same transaction as its effect, so a replayed or
-- redelivered event changes nothing a second time.
--
-- A platform table: events arrive on the platform path (no tenant token),
-- so only that path writes it. There is no foreign key to tenants: the
-- replay protection of an id outlives a tenant that is purged.
CREATE TABLE billing_events (
    id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    kind        text NOT NULL,
    tenant_id   uuid,
    outcome     text NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'ignored')),
    detail      jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz,
    received_at timestamptz NOT NULL
);
CREATE INDEX billing_events_tenant ON billing_events (tenant_id, received_at)
    WHERE tenant_id IS NOT NULL;

-- The platform path sees and writes every row; a tenant transaction may
-- read its own tenant's events, nothing else. Append-only for coffer_app.
ALTER TABLE billing_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_events FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON billing_events
    USING (coffer_platform()) WITH CHECK (coffer_platform());
CREATE POLICY tenant_reads_own ON billing_events FOR SELECT
    USING (tenant_id = coffer_current_tenant());
GRANT SELECT, INSERT ON billing_events TO coffer_app;
