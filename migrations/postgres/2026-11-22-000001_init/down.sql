DROP TABLE IF EXISTS outbox, audit_events, usage_counters, grants, files, users,
    tenant_features, tenant_settings, tenants;
DROP FUNCTION IF EXISTS coffer_platform();
DROP FUNCTION IF EXISTS coffer_current_tenant();
-- coffer_app is cluster-wide and may serve other databases: it is kept.
