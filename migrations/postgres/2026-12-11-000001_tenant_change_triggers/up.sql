-- Every change to a tenant row, its settings or its feature flags notifies
-- the instances that cache them (`coffer_tenant_changed`, the payload the
-- tenant id; crates/postgres/src/changes.rs), whoever makes it: the service
-- (which sent the notification itself before, and only from the writes
-- that remembered to — an onboarding's status change and a purge did not),
-- an operator's SQL, or a migration. PostgreSQL delivers a notification on
-- commit, not on rollback, and folds identical ones within a transaction.
-- With every change notified, the cache TTL (`tenants.cache_ttl_secs`) is a
-- backstop rather than the bound an out-of-band change waited for
-- (docs/decisions.md).
-- The trigger's argument names the column that holds the tenant id.
CREATE FUNCTION coffer_tenant_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('coffer_tenant_changed',
        to_jsonb(CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END) ->> TG_ARGV[0]);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION coffer_tenant_changed('id');
CREATE TRIGGER tenant_settings_changed AFTER INSERT OR UPDATE OR DELETE ON tenant_settings
    FOR EACH ROW EXECUTE FUNCTION coffer_tenant_changed('tenant_id');
CREATE TRIGGER tenant_features_changed AFTER INSERT OR UPDATE OR DELETE ON tenant_features
    FOR EACH ROW EXECUTE FUNCTION coffer_tenant_changed('tenant_id');
