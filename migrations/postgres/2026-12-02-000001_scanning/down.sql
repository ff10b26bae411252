DROP TABLE scan_jobs;
DROP INDEX files_live_name;
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'available') AND erase_started_at IS NULL;
ALTER TABLE files DROP COLUMN scan_verdict;
ALTER TABLE files DROP CONSTRAINT files_status_check;
ALTER TABLE files ADD CONSTRAINT files_status_check
    CHECK (status IN ('pending', 'available', 'deleted'));
