-- Integrity: a permanent delete marks its row before the object goes, so a
-- crash at any point leaves a state the sweep finishes (docs/integrity.md);
-- the reconciler marks rows whose object is missing.
ALTER TABLE files
    ADD COLUMN erase_started_at  timestamptz,
    ADD COLUMN object_missing_at timestamptz;

-- A row being erased no longer holds its name: the user deleted it, and a
-- crashed erase must not block a new upload of the same name until the
-- sweep has finished it.
DROP INDEX files_live_name;
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'available') AND erase_started_at IS NULL;

-- The sweep finds unfinished erases without scanning the tenant.
CREATE INDEX files_erasing ON files (tenant_id, erase_started_at)
    WHERE erase_started_at IS NOT NULL;
