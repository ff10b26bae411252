-- File versions (docs/records.md). `files` keeps each file's current
-- version; `file_versions` keeps every version, the current one included,
-- so a file's history is one ordered read. A new version is uploaded as a
-- pending row of its own (`version_of` names the file), which takes no
-- name of its own and is folded into the file when it completes.
ALTER TABLE files ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE files ADD COLUMN version_of uuid;
ALTER TABLE files ADD CONSTRAINT files_version_of
    FOREIGN KEY (tenant_id, version_of) REFERENCES files (tenant_id, id) ON DELETE CASCADE;
CREATE INDEX files_version_uploads ON files (tenant_id, version_of) WHERE version_of IS NOT NULL;
DROP INDEX files_live_name;
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'scanning', 'available', 'quarantined')
      AND erase_started_at IS NULL AND version_of IS NULL;

CREATE TABLE file_versions (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    file_id         uuid NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    bucket          text NOT NULL,
    object_key      text NOT NULL,
    size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),
    checksum_sha256 bytea,
    content_type    text NOT NULL,
    uploaded_by     text NOT NULL,
    uploaded_at     timestamptz NOT NULL,
    -- The upload row folded in: a complete retried after the fold finds
    -- its file here.
    upload_id       uuid,
    PRIMARY KEY (tenant_id, file_id, version),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX file_versions_upload ON file_versions (tenant_id, upload_id)
    WHERE upload_id IS NOT NULL;

-- The files already complete have one version: what they hold now.
INSERT INTO file_versions
SELECT tenant_id, id, 1, bucket, object_key, size_bytes, checksum_sha256, content_type,
       owner_subject, updated_at, NULL
FROM files WHERE status <> 'pending';

ALTER TABLE file_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE file_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON file_versions
    USING (tenant_id = coffer_current_tenant())
    WITH CHECK (tenant_id = coffer_current_tenant());
-- Versions are never changed; they go with their file.
GRANT SELECT, INSERT, DELETE ON file_versions TO coffer_app;
