-- The event dispatcher's one query for tenants with a webhook (see migrations/postgres).
CREATE INDEX tenant_settings_by_key ON tenant_settings (key);
