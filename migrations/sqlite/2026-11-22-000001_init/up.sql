-- Coffer's metadata schema for the embedded mode: the tables and rules of
-- migrations/postgres, in SQLite's types. UUIDs are lowercase hyphenated
-- text, timestamps are integer nanoseconds since the Unix epoch (UTC), JSON
-- is text. SQLite has no row-level security: the adapter puts tenant_id in
-- every WHERE and every INSERT instead (see docs/embedded.md).

CREATE TABLE tenants (
    id               TEXT PRIMARY KEY NOT NULL,
    slug             TEXT NOT NULL UNIQUE,
    display_name     TEXT NOT NULL,
    plan             TEXT NOT NULL CHECK (plan IN ('starter', 'professional', 'enterprise')),
    status           TEXT NOT NULL CHECK (status IN ('provisioning', 'provisioning_failed', 'active', 'suspended', 'cancelled')),
    region           TEXT NOT NULL,
    dedicated_bucket TEXT,
    limit_overrides  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(limit_overrides)),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    suspended_at     INTEGER,
    cancelled_at     INTEGER,
    purge_after      INTEGER
);
CREATE INDEX tenants_keyset ON tenants (created_at, id);

CREATE TABLE tenant_settings (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL CHECK (json_valid(value)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE tenant_features (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    expires_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE users (
    id           TEXT PRIMARY KEY NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    -- JSON array of role names.
    roles        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(roles)),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    UNIQUE (tenant_id, subject),
    -- Target of the composite foreign key from files: an owner is always a
    -- user of the file's own tenant.
    UNIQUE (tenant_id, id)
);

CREATE TABLE files (
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
    status              TEXT NOT NULL CHECK (status IN ('pending', 'available', 'deleted')),
    bucket              TEXT NOT NULL,
    object_key          TEXT NOT NULL,
    multipart_upload_id TEXT,
    upload_expires_at   INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    deleted_at          INTEGER,
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id),
    -- Object keys always lie under the tenant's prefix.
    CHECK (substr(object_key, 1, length(tenant_id) + 3) = 't/' || tenant_id || '/'),
    UNIQUE (tenant_id, id)
);
-- Keyset listing, newest first.
CREATE INDEX files_keyset ON files (tenant_id, status, created_at, id);
-- Folder listing.
CREATE INDEX files_folder ON files (tenant_id, path, created_at, id);
-- Listing by owner.
CREATE INDEX files_owner ON files (tenant_id, owner_subject, created_at, id);
-- One live file per (tenant, path, filename); trash does not count.
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'available');
-- Reaping expired pending uploads.
CREATE INDEX files_pending_expiry ON files (upload_expires_at) WHERE status = 'pending';

CREATE TABLE grants (
    id         TEXT PRIMARY KEY NOT NULL,
    tenant_id  TEXT NOT NULL,
    file_id    TEXT NOT NULL,
    subject    TEXT NOT NULL CHECK (subject LIKE 'user:_%' OR subject LIKE 'role:_%'),
    access     TEXT NOT NULL CHECK (access IN ('read', 'write', 'manage')),
    expires_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (file_id, subject)
);
CREATE INDEX grants_by_file ON grants (tenant_id, file_id);

CREATE TABLE usage_counters (
    tenant_id      TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    used_bytes     INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    file_count     INTEGER NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    reserved_bytes INTEGER NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0),
    reserved_files INTEGER NOT NULL DEFAULT 0 CHECK (reserved_files >= 0),
    updated_at     INTEGER NOT NULL DEFAULT 0
);

-- Append-only: the triggers below refuse UPDATE and DELETE. file_id has no
-- foreign key so the record outlives the file.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    file_id     TEXT,
    detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    request_id  TEXT,
    client_addr TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX audit_events_keyset ON audit_events (tenant_id, at, id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- Events to publish later (transactional outbox).
CREATE TABLE outbox (
    id           TEXT PRIMARY KEY NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    topic        TEXT NOT NULL,
    payload      TEXT NOT NULL CHECK (json_valid(payload)),
    created_at   INTEGER NOT NULL,
    published_at INTEGER
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
