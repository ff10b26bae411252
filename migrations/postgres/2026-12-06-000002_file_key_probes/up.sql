-- Foreign-key checks against `files` that a fresh database plans well
-- (docs/benchmarks.md, initiate upload). A foreign-key check is a cached
-- query per backend, `SELECT 1 FROM files WHERE tenant_id = $1 AND id = $2`,
-- planned on first use. On a never-analysed database `files` counts as ten
-- pages and every tenant as one row, so every index that leads with
-- `tenant_id` and holds `id` (files_keyset, files_folder, files_owner) costs
-- exactly what the key does, and PostgreSQL keeps the newest such index
-- (files_owner). Once the tenant grows, each check walks its files until
-- the first ANALYZE: a file's search terms made ~40 such walks per upload.

-- 1. Search terms: the probe is the primary key. Their rows are made only
-- by the triggers of `files`, from the file's own row, so the tenant of a
-- term is the file's by construction. `WHERE id = $1` on any other index
-- is a walk of the whole index, which costs more than the key even without
-- statistics: robust whatever indexes `files` gains. The cascade and the
-- update trigger's delete find a file's terms by `file_id`.
ALTER TABLE file_terms DROP CONSTRAINT file_terms_tenant_id_file_id_fkey;
DROP INDEX file_terms_file;
CREATE INDEX file_terms_file ON file_terms (file_id);
ALTER TABLE file_terms ADD CONSTRAINT file_terms_file_id_fkey
    FOREIGN KEY (file_id) REFERENCES files (id) ON DELETE CASCADE;

-- 2. Grants, versions, legal holds and version uploads keep the composite
-- key (a row can never point at another tenant's file), so its probe must
-- win the tie above: the unique key on (tenant_id, id) is rebuilt here to
-- be the newest of those indexes. An index created later on `files` that
-- leads with tenant_id and holds id takes the tie back; the test
-- `fresh_database_probes_files_by_key` says so, and this step is then
-- repeated after it. The foreign keys are dropped by name, not by CASCADE:
-- one this list misses makes the migration fail rather than vanish.
ALTER TABLE grants DROP CONSTRAINT grants_tenant_id_file_id_fkey;
ALTER TABLE file_versions DROP CONSTRAINT file_versions_tenant_id_file_id_fkey;
ALTER TABLE legal_holds DROP CONSTRAINT legal_holds_tenant_id_file_id_fkey;
ALTER TABLE files DROP CONSTRAINT files_version_of;
ALTER TABLE files DROP CONSTRAINT files_tenant_id_id_key;
ALTER TABLE files ADD CONSTRAINT files_tenant_id_id_key UNIQUE (tenant_id, id);
ALTER TABLE grants ADD CONSTRAINT grants_tenant_id_file_id_fkey
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE file_versions ADD CONSTRAINT file_versions_tenant_id_file_id_fkey
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE legal_holds ADD CONSTRAINT legal_holds_tenant_id_file_id_fkey
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE files ADD CONSTRAINT files_version_of
    FOREIGN KEY (tenant_id, version_of) REFERENCES files (tenant_id, id) ON DELETE CASCADE;
