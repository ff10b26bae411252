DROP INDEX files_erasing;
DROP INDEX files_live_name;
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'available');
ALTER TABLE files DROP COLUMN object_missing_at;
ALTER TABLE files DROP COLUMN erase_started_at;
