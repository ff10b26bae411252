DROP INDEX tenant_settings_by_key;
