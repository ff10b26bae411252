-- The group commit of audit appends writes the accesses of many tenants in
-- one transaction (docs/benchmarks.md). Scoped one tenant at a time, a
-- batch of n tenants cost 5n statements (each tenant's setting, head lock,
-- setting again, rows, head), so a download spread over many tenants paid
-- five statements where one tenant's downloads shared them. A batch now
-- names its tenants in `coffer.audit_batch` (set_config(…, true)) and
-- writes with four statements whatever their number (its tenants set,
-- their heads locked, every row inserted, every head moved).
--
-- This is the one place a statement of the service role spans tenants,
-- and it is deliberately narrow (docs/security.md): only the two tables of
-- the hash chain, only the tenants the batch names, and on `audit_events`
-- only inserts (the service role has no UPDATE or DELETE on it at all).
-- Every other table still sees one tenant per transaction, or none.
CREATE FUNCTION coffer_audit_batch() RETURNS uuid[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('coffer.audit_batch', true), '')::uuid[] $$;
GRANT EXECUTE ON FUNCTION coffer_audit_batch() TO coffer_app;

CREATE POLICY audit_batch_appends ON audit_events FOR INSERT
    WITH CHECK (tenant_id = ANY (coffer_audit_batch()));

CREATE POLICY audit_batch_heads ON audit_chain_heads
    USING (tenant_id = ANY (coffer_audit_batch()))
    WITH CHECK (tenant_id = ANY (coffer_audit_batch()));
