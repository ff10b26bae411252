-- The event dispatcher asks once per round which tenants have a webhook,
-- on the platform path, instead of reading every tenant's settings: the
-- platform may read the `webhook` setting rows, no other setting.
CREATE POLICY platform_reads_webhooks ON tenant_settings FOR SELECT
    USING (coffer_platform() AND key = 'webhook');
