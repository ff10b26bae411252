DROP TRIGGER tenant_features_changed ON tenant_features;
DROP TRIGGER tenant_settings_changed ON tenant_settings;
DROP TRIGGER tenants_changed ON tenants;
DROP FUNCTION coffer_tenant_changed();
