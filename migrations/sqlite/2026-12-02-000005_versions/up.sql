-- File versions: see migrations/postgres/2026-12-02-000005_versions.
ALTER TABLE files ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE files ADD COLUMN version_of TEXT
    REFERENCES files (id) ON DELETE CASCADE;
CREATE INDEX files_version_uploads ON files (tenant_id, version_of) WHERE version_of IS NOT NULL;
DROP INDEX files_live_name;
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'scanning', 'available', 'quarantined')
      AND erase_started_at IS NULL AND version_of IS NULL;

CREATE TABLE file_versions (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    file_id         TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    bucket          TEXT NOT NULL,
    object_key      TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL CHECK (size_bytes >= 0),
    checksum_sha256 BLOB,
    content_type    TEXT NOT NULL,
    uploaded_by     TEXT NOT NULL,
    uploaded_at     INTEGER NOT NULL,
    -- The upload row folded in: a complete retried after the fold finds
    -- its file here.
    upload_id       TEXT,
    PRIMARY KEY (tenant_id, file_id, version),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX file_versions_upload ON file_versions (tenant_id, upload_id)
    WHERE upload_id IS NOT NULL;

INSERT INTO file_versions
SELECT tenant_id, id, 1, bucket, object_key, size_bytes, checksum_sha256, content_type,
       owner_subject, updated_at, NULL
FROM files WHERE status <> 'pending';
