-- Search terms of files (docs/postgres.md#search-terms). `coffer_app` runs
-- under FORCE ROW LEVEL SECURITY, and PostgreSQL evaluates a policy before
-- any condition whose operator is not LEAKPROOF: `@>` (jsonb_contains) and
-- `LIKE` (textlike) are not, so the GIN indexes on `files.metadata` and
-- `lower(files.filename)` were never used by the service. Equality on text
-- and uuid is leakproof: a btree of (tenant, term, created_at, file) serves
-- a rare metadata value or filename substring under RLS, in keyset order.

-- Every distinct trigram (three characters) of `lowered`, as `n:<trigram>`.
-- The caller lowers: the table takes `lower(filename)`, the listing the
-- needle exactly as its `LIKE` pattern holds it, so a name the pattern
-- matches has every trigram of the needle.
CREATE FUNCTION coffer_name_terms(lowered text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(array_agg(DISTINCT 'n:' || substr(lowered, i, 3)), '{}')
        FROM generate_series(1, char_length(lowered) - 2) AS i
    $$;

-- Every leaf of `doc` in the sense of `jsonb_path_ops`: the path of object
-- keys down to a scalar (arrays are transparent), each key JSON-quoted and
-- joined by `.`, then `=` and the scalar as JSON (numbers without trailing
-- zeros, since `@>` compares numbers by value): `m:"case"="4242"`,
-- `m:"a"."b"=1`, `m:"tags"="x"`. If `doc @> needle`, every leaf of the
-- needle is a leaf of `doc`. A term longer than 200 bytes is kept as its
-- md5 (`m#…`), within what a btree entry can hold. Empty objects and arrays
-- have no leaf.
CREATE FUNCTION coffer_metadata_terms(doc jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        WITH RECURSIVE walk (path, value) AS (
            SELECT ARRAY[]::text[], doc
          UNION ALL
            SELECT CASE WHEN e.key IS NULL THEN w.path ELSE w.path || to_jsonb(e.key)::text END,
                   e.value
            FROM walk w
            CROSS JOIN LATERAL (
                SELECT o.key, o.value
                FROM jsonb_each(CASE WHEN jsonb_typeof(w.value) = 'object' THEN w.value END) AS o
              UNION ALL
                SELECT NULL, a.value
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.value) = 'array' THEN w.value END) AS a
            ) AS e
        ),
        leaves AS (
            SELECT 'm:' || array_to_string(path, '.') || '=' ||
                   CASE jsonb_typeof(value)
                       WHEN 'number' THEN trim_scale(value::numeric)::text
                       ELSE value::text
                   END AS term
            FROM walk
            WHERE jsonb_typeof(value) NOT IN ('object', 'array')
        )
        SELECT coalesce(array_agg(DISTINCT CASE WHEN octet_length(term) > 200
                                                THEN 'm#' || md5(term) ELSE term END), '{}')
        FROM leaves
    $$;

-- The folder `path` and each folder above it (not the root), as
-- `p:<folder>`: `/a/b` gives `p:/a` and `p:/a/b`. A file is below the
-- prefix `/a` (`path = '/a' OR path LIKE '/a/%'`, whose `LIKE` is not
-- leakproof either) exactly when it has the term `p:/a`.
CREATE FUNCTION coffer_path_terms(path text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(array_agg('p:' || array_to_string(parts[1:i], '/')), '{}')
        FROM string_to_array(path, '/') AS parts,
             generate_series(2, cardinality(parts)) AS i
        WHERE path <> '/'
    $$;

-- A file's terms; `lower` here is the one the listing's `LIKE` rechecks.
CREATE FUNCTION coffer_file_terms(filename text, metadata jsonb, path text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coffer_name_terms(lower(filename)) || coffer_metadata_terms(metadata)
               || coffer_path_terms(path)
    $$;

-- created_at mirrors files.created_at, so a page walks the primary key in
-- the listing's keyset order `(created_at, id)`.
CREATE TABLE file_terms (
    tenant_id  uuid NOT NULL,
    term       text NOT NULL,
    created_at timestamptz NOT NULL,
    file_id    uuid NOT NULL,
    PRIMARY KEY (tenant_id, term, created_at, file_id),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
);
-- A file's own terms: for the cascade and the trigger's delete.
CREATE INDEX file_terms_file ON file_terms (tenant_id, file_id);
-- The listing compares `term` with the rarest of the needle's terms, chosen
-- while the statement runs, so the planner cannot see which term it gets
-- and assumes an average one: thousands of rows at scale, for which it
-- plans a parallel or hashed join of whole tables (20 ms to 400 ms for ten
-- rows of a 1M-file tenant). Whatever the term, the right plan is the walk
-- of the primary key in page order, stopped at the page's end: the one the
-- planner picks for a rare term. Hence: every term counts as rare (taken
-- into account by each ANALYZE).
ALTER TABLE file_terms ALTER COLUMN term SET (n_distinct = -0.5);

-- Inserts are kept per statement (one INSERT … SELECT for a bulk insert);
-- changes per row, and only when a term or the order can change.
CREATE FUNCTION coffer_file_terms_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        INSERT INTO file_terms (tenant_id, term, created_at, file_id)
        SELECT n.tenant_id, t.term, n.created_at, n.id
        FROM inserted_files n
        CROSS JOIN LATERAL unnest(coffer_file_terms(n.filename, n.metadata, n.path)) AS t (term);
        RETURN NULL;
    END
    $$;

CREATE FUNCTION coffer_file_terms_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        DELETE FROM file_terms WHERE tenant_id = OLD.tenant_id AND file_id = OLD.id;
        INSERT INTO file_terms (tenant_id, term, created_at, file_id)
        SELECT NEW.tenant_id, t.term, NEW.created_at, NEW.id
        FROM unnest(coffer_file_terms(NEW.filename, NEW.metadata, NEW.path)) AS t (term);
        RETURN NULL;
    END
    $$;

CREATE TRIGGER files_terms_insert AFTER INSERT ON files
    REFERENCING NEW TABLE AS inserted_files
    FOR EACH STATEMENT EXECUTE FUNCTION coffer_file_terms_insert();
CREATE TRIGGER files_terms_update AFTER UPDATE OF filename, metadata, path, created_at ON files
    FOR EACH ROW
    WHEN (OLD.filename IS DISTINCT FROM NEW.filename
          OR OLD.metadata IS DISTINCT FROM NEW.metadata
          OR OLD.path IS DISTINCT FROM NEW.path
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION coffer_file_terms_update();

-- The files already there. FORCE binds the owner too, and this runs in no
-- tenant's scope: lift it from files for this statement's transaction.
ALTER TABLE files NO FORCE ROW LEVEL SECURITY;
INSERT INTO file_terms (tenant_id, term, created_at, file_id)
SELECT f.tenant_id, t.term, f.created_at, f.id
FROM files f
CROSS JOIN LATERAL unnest(coffer_file_terms(f.filename, f.metadata, f.path)) AS t (term);
ALTER TABLE files FORCE ROW LEVEL SECURITY;

-- Like files and grants: the transaction's tenant only; the platform path
-- sees no files, so no terms either.
ALTER TABLE file_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE file_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON file_terms
    USING (tenant_id = coffer_current_tenant())
    WITH CHECK (tenant_id = coffer_current_tenant());
-- Written only by the triggers, as the caller.
GRANT SELECT, INSERT, DELETE ON file_terms TO coffer_app;
GRANT EXECUTE ON FUNCTION coffer_name_terms(text), coffer_metadata_terms(jsonb),
    coffer_path_terms(text), coffer_file_terms(text, jsonb, text) TO coffer_app;

-- What RLS made useless to the service: the listing now finds these
-- filters through file_terms.
DROP INDEX files_metadata;
DROP INDEX files_filename_search;
