-- Malware scanning: see migrations/postgres/2026-12-02-000001_scanning.
-- SQLite cannot change a CHECK constraint, so `files` is rebuilt. Dropping
-- the old table would cascade to `grants`, so they are kept aside and put
-- back; `grants` then refers to the new `files` by name.
CREATE TEMP TABLE grants_kept AS SELECT * FROM grants;

CREATE TABLE files_scanning (
    id                  TEXT PRIMARY KEY NOT NULL,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    owner_id            TEXT NOT NULL,
    owner_subject       TEXT NOT NULL,
    category            TEXT NOT NULL,
    path                TEXT NOT NULL,
    filename            TEXT NOT NULL,
    content_type        TEXT NOT NULL,
    size_bytes          INTEGER NOT NULL CHECK (size_bytes >= 0),
    checksum_sha256     BLOB CHECK (checksum_sha256 IS NULL OR length(checksum_sha256) = 32),
    visibility          TEXT NOT NULL CHECK (visibility IN ('private', 'tenant')),
    metadata            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'scanning', 'available', 'quarantined', 'deleted')),
    bucket              TEXT NOT NULL,
    object_key          TEXT NOT NULL,
    multipart_upload_id TEXT,
    upload_expires_at   INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    deleted_at          INTEGER,
    erase_started_at    INTEGER,
    object_missing_at   INTEGER,
    scan_verdict        TEXT CHECK (scan_verdict IS NULL OR (json_valid(scan_verdict) AND json_type(scan_verdict) = 'object')),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id),
    -- Object keys always lie under the tenant's prefix.
    CHECK (substr(object_key, 1, length(tenant_id) + 3) = 't/' || tenant_id || '/'),
    UNIQUE (tenant_id, id)
);
INSERT INTO files_scanning (
    id, tenant_id, owner_id, owner_subject, category, path, filename, content_type,
    size_bytes, checksum_sha256, visibility, metadata, status, bucket, object_key,
    multipart_upload_id, upload_expires_at, created_at, updated_at, deleted_at,
    erase_started_at, object_missing_at
)
SELECT
    id, tenant_id, owner_id, owner_subject, category, path, filename, content_type,
    size_bytes, checksum_sha256, visibility, metadata, status, bucket, object_key,
    multipart_upload_id, upload_expires_at, created_at, updated_at, deleted_at,
    erase_started_at, object_missing_at
FROM files;
DROP TABLE files;
ALTER TABLE files_scanning RENAME TO files;
INSERT INTO grants SELECT * FROM grants_kept WHERE NOT EXISTS (
    SELECT 1 FROM grants g WHERE g.id = grants_kept.id
);
DROP TABLE grants_kept;

CREATE INDEX files_keyset ON files (tenant_id, status, created_at, id);
CREATE INDEX files_folder ON files (tenant_id, path, created_at, id);
CREATE INDEX files_owner ON files (tenant_id, owner_subject, created_at, id);
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'scanning', 'available', 'quarantined')
      AND erase_started_at IS NULL;
CREATE INDEX files_pending_expiry ON files (upload_expires_at) WHERE status = 'pending';
CREATE INDEX files_erasing ON files (tenant_id, erase_started_at)
    WHERE erase_started_at IS NOT NULL;

CREATE TABLE scan_jobs (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    file_id     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  TEXT,
    not_before  INTEGER NOT NULL,
    lease_until INTEGER,
    queued_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, file_id)
);
CREATE INDEX scan_jobs_due ON scan_jobs (not_before, queued_at);
