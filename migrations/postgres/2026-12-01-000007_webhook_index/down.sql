DROP POLICY platform_reads_webhooks ON tenant_settings;
