-- See migrations/postgres/2026-12-01-000008_billing_order.
ALTER TABLE billing_events ADD COLUMN stream TEXT;
CREATE INDEX billing_events_stream ON billing_events (tenant_id, stream, occurred_at)
    WHERE stream IS NOT NULL;
