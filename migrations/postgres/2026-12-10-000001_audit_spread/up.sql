-- Two costs of an audit batch that grew with the number of its tenants
-- (docs/benchmarks.md, "Audit batches over many tenants"):
--
-- 1. Membership in the batch was a substring test of the row's tenant id
--    in `coffer.audit_batch`, evaluated for every row checked: each call
--    copied the whole setting and counted its characters up to the match,
--    so a batch of n tenants paid n² in characters. The list is now parsed
--    once per statement: a policy's uncorrelated sub-select is planned as
--    an init plan, evaluated once and then compared with `= ANY` per row.
--    (Casting the setting in the policy without the sub-select parsed it
--    once per row — why the substring test came first. The cast after the
--    sub-select keeps `= ANY` from reading it as a set of rows.)
--
-- 2. Each entry's foreign key locked its tenant's `tenants` row
--    (`FOR KEY SHARE`): one tuple lock, page write and WAL record per
--    tenant of a batch. The entries now reference their chain's head,
--    which the batch already holds `FOR UPDATE`, so the check finds its
--    lock taken. The head references the tenant, so deleting a tenant
--    still deletes its chain (the cascade goes through the head).
CREATE FUNCTION coffer_audit_batch() RETURNS uuid[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT string_to_array(nullif(current_setting('coffer.audit_batch', true), ''), ',')::uuid[] $$;
GRANT EXECUTE ON FUNCTION coffer_audit_batch() TO coffer_app;

DROP POLICY audit_batch_appends ON audit_events;
CREATE POLICY audit_batch_appends ON audit_events FOR INSERT
    WITH CHECK (tenant_id = ANY ((SELECT coffer_audit_batch())::uuid[]));
DROP POLICY audit_batch_heads ON audit_chain_heads;
CREATE POLICY audit_batch_heads ON audit_chain_heads
    USING (tenant_id = ANY ((SELECT coffer_audit_batch())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT coffer_audit_batch())::uuid[]));
DROP FUNCTION coffer_in_audit_batch(uuid);

-- Entries written before the chain existed and not linked yet have no
-- head: give them one at the genesis, where linking them starts anyway.
-- The owner is held to row-level security too (FORCE), so it is lifted
-- for this one statement's tables and put back.
ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_heads NO FORCE ROW LEVEL SECURITY;
INSERT INTO audit_chain_heads (tenant_id, seq, hash)
    SELECT DISTINCT tenant_id, 0, decode(repeat('00', 32), 'hex') FROM audit_events
    ON CONFLICT (tenant_id) DO NOTHING;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY;

ALTER TABLE audit_events
    DROP CONSTRAINT audit_events_tenant_id_fkey,
    ADD CONSTRAINT audit_events_tenant_id_fkey FOREIGN KEY (tenant_id)
        REFERENCES audit_chain_heads (tenant_id) ON DELETE CASCADE;
