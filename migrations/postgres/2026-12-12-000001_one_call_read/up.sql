-- The hot read in one call (docs/benchmarks.md): the file with its grants
-- folded into arrays, so a download or a file read is one statement - one
-- implicit transaction - instead of the two calls of
-- `2026-12-09-000002_one_trip_reads`, each its own transaction. The scope
-- is entered the same way (`set_config(..., true)` before the query, so
-- row-level security scopes both tables) with the same invoker's rights.
-- One aggregation step fills every array, row by row, so the n-th
-- element of each is the same grant; they are not sorted here (an
-- ordered aggregate sets up a sort of its own, six per call) - the
-- adapter orders the grants by creation, then id. The two earlier
-- functions stay for a binary of the previous release during a rolling
-- upgrade.
CREATE FUNCTION coffer_tenant_file_read(tenant uuid, file uuid)
RETURNS TABLE (
    file_row files,
    grant_ids uuid[],
    grant_subjects text[],
    grant_accesses text[],
    grant_expires_at timestamptz[],
    grant_created_by text[],
    grant_created_at timestamptz[]
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('coffer.tenant_id', tenant::text, true);
    RETURN QUERY
    SELECT f, g.ids, g.subjects, g.accesses, g.expires_at, g.created_by, g.created_at
    FROM files f
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(x.id), '{}'),
               coalesce(array_agg(x.subject), '{}'),
               coalesce(array_agg(x.access), '{}'),
               coalesce(array_agg(x.expires_at), '{}'),
               coalesce(array_agg(x.created_by), '{}'),
               coalesce(array_agg(x.created_at), '{}')
        FROM grants x
        WHERE x.file_id = f.id
    ) AS g(ids, subjects, accesses, expires_at, created_by, created_at)
    WHERE f.id = file AND f.erase_started_at IS NULL;
END;
$$;

GRANT EXECUTE ON FUNCTION coffer_tenant_file_read(uuid, uuid) TO coffer_app;
