-- A tenant moving from a home of its own takes its audit chain along
-- (docs/tenants-placement.md). At the switch the source's chain is sealed:
-- its head records when, and from then on no entry can be linked after it,
-- so an access recorded by an instance that has not yet seen the switch
-- fails (and is retried at the target) instead of landing in a chain that
-- is about to be dropped. Moving the head forward is the one thing a seal
-- refuses; locking it (an upsert that keeps its seq) still works.
ALTER TABLE audit_chain_heads ADD COLUMN sealed_at timestamptz;

CREATE FUNCTION coffer_refuse_sealed_append() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'coffer: the audit chain of tenant % is sealed (the tenant is moving)', OLD.tenant_id
        USING ERRCODE = 'CF001';
END;
$$;

-- The WHEN clause keeps every ordinary append (two updates of the head)
-- from calling the function at all: only a sealed head moved runs it.
CREATE TRIGGER audit_chain_sealed BEFORE UPDATE ON audit_chain_heads
    FOR EACH ROW WHEN (OLD.sealed_at IS NOT NULL AND NEW.seq <> OLD.seq)
    EXECUTE FUNCTION coffer_refuse_sealed_append();

-- A move also changes which region's shared database holds the tenant
-- (none once it has a database of its own; its region's when it leaves
-- one), so a move records that side of both placements too.
ALTER TABLE tenant_moves ADD COLUMN source_metadata_region text,
    ADD COLUMN target_metadata_region text;

-- A move may change the tenant's region (confirmed by whoever asked):
-- where its objects are kept, and its region's shared database.
ALTER TABLE tenant_moves ADD COLUMN source_region text,
    ADD COLUMN target_region text;

-- A move to another bucket that leaves the rows where they are renames the
-- bucket its file and version rows name. A version's bytes stay final;
-- only where they are kept may change, so the service role may update
-- that one column of a version and nothing else.
GRANT UPDATE (bucket) ON file_versions TO coffer_app;
