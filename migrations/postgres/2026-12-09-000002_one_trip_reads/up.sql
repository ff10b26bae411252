-- The hot read — a file and its grants, for every download and file read
-- (docs/benchmarks.md) — as two statements outside any transaction block,
-- pipelined into one round trip, instead of BEGIN READ ONLY, the tenant's
-- setting, the two queries and COMMIT in two. Each function enters the
-- tenant's scope itself: `set_config(…, true)` lasts until the end of the
-- statement's own implicit transaction, so row-level security scopes each
-- query exactly as a `SET LOCAL` at the top of a transaction would, and the
-- next statement on the connection starts with no tenant. Read committed
-- took a snapshot per statement inside the transaction too, so the two
-- reads are as consistent as before. Invoker's rights: the service role
-- and its policies, nothing more.
CREATE FUNCTION coffer_tenant_file(tenant uuid, file uuid) RETURNS SETOF files
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('coffer.tenant_id', tenant::text, true);
    RETURN QUERY SELECT * FROM files f WHERE f.id = file AND f.erase_started_at IS NULL;
END;
$$;

CREATE FUNCTION coffer_tenant_file_grants(tenant uuid, file uuid) RETURNS SETOF grants
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('coffer.tenant_id', tenant::text, true);
    RETURN QUERY SELECT * FROM grants g WHERE g.file_id = file ORDER BY g.created_at;
END;
$$;

GRANT EXECUTE ON FUNCTION coffer_tenant_file(uuid, uuid),
    coffer_tenant_file_grants(uuid, uuid) TO coffer_app;
