-- Integrity: see migrations/postgres/2026-12-01-000002_integrity.
ALTER TABLE files ADD COLUMN erase_started_at INTEGER;
ALTER TABLE files ADD COLUMN object_missing_at INTEGER;

DROP INDEX files_live_name;
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'available') AND erase_started_at IS NULL;

CREATE INDEX files_erasing ON files (tenant_id, erase_started_at)
    WHERE erase_started_at IS NOT NULL;
