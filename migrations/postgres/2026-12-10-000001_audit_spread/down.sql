ALTER TABLE audit_events
    DROP CONSTRAINT audit_events_tenant_id_fkey,
    ADD CONSTRAINT audit_events_tenant_id_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (id) ON DELETE CASCADE;

CREATE FUNCTION coffer_in_audit_batch(tenant uuid) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT strpos(current_setting('coffer.audit_batch', true), tenant::text) > 0 $$;
GRANT EXECUTE ON FUNCTION coffer_in_audit_batch(uuid) TO coffer_app;
DROP POLICY audit_batch_heads ON audit_chain_heads;
CREATE POLICY audit_batch_heads ON audit_chain_heads
    USING (coffer_in_audit_batch(tenant_id))
    WITH CHECK (coffer_in_audit_batch(tenant_id));
DROP POLICY audit_batch_appends ON audit_events;
CREATE POLICY audit_batch_appends ON audit_events FOR INSERT
    WITH CHECK (coffer_in_audit_batch(tenant_id));
DROP FUNCTION coffer_audit_batch();
