-- Billing events may arrive out of order (the provider retries, and its
-- deliveries race). An event names the series it belongs to (`stream`:
-- `subscription` for plan and status, `invoice` for the payment notice);
-- one older than an event of the same tenant and stream already acted on
-- is recorded as superseded and changes nothing (docs/billing.md).
ALTER TABLE billing_events ADD COLUMN stream text;
CREATE INDEX billing_events_stream ON billing_events (tenant_id, stream, occurred_at)
    WHERE stream IS NOT NULL;
