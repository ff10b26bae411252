-- Billing events: see migrations/postgres/2026-12-01-000003_billing.
CREATE TABLE billing_events (
    id          TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    kind        TEXT NOT NULL,
    tenant_id   TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'ignored')),
    detail      TEXT NOT NULL DEFAULT '{}',
    occurred_at INTEGER,
    received_at INTEGER NOT NULL
);
CREATE INDEX billing_events_tenant ON billing_events (tenant_id, received_at)
    WHERE tenant_id IS NOT NULL;
