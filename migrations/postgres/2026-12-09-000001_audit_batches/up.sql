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
--
-- The setting is the tenant ids as text, separated by commas. A policy is
-- evaluated for every row, and casting the setting to uuid[] there parsed
-- the whole list again for each row: with 64 tenants in a batch that
-- parsing was most of PostgreSQL's time (docs/benchmarks.md). A substring
-- test is exact here — a tenant id's text is 36 characters without a
-- comma, so it cannot straddle two ids of the list — and costs a scan of a
-- few kilobytes.
CREATE FUNCTION coffer_in_audit_batch(tenant uuid) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT strpos(current_setting('coffer.audit_batch', true), tenant::text) > 0 $$;
GRANT EXECUTE ON FUNCTION coffer_in_audit_batch(uuid) TO coffer_app;

CREATE POLICY audit_batch_appends ON audit_events FOR INSERT
    WITH CHECK (coffer_in_audit_batch(tenant_id));

CREATE POLICY audit_batch_heads ON audit_chain_heads
    USING (coffer_in_audit_batch(tenant_id))
    WITH CHECK (coffer_in_audit_batch(tenant_id));
