DROP TABLE file_versions;
DELETE FROM files WHERE version_of IS NOT NULL;
DROP INDEX files_live_name;
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'scanning', 'available', 'quarantined')
      AND erase_started_at IS NULL;
DROP INDEX files_version_uploads;
ALTER TABLE files DROP COLUMN version_of;
ALTER TABLE files DROP COLUMN version;
