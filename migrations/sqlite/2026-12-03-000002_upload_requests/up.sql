-- Upload requests; see the PostgreSQL migration of the same name.
-- allowed_types is a JSON array of strings.
CREATE TABLE upload_requests (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_digest    BLOB NOT NULL UNIQUE CHECK (length(token_digest) = 32),
    path            TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    max_files       INTEGER NOT NULL CHECK (max_files > 0),
    max_size        INTEGER NOT NULL CHECK (max_size > 0),
    allowed_types   TEXT NOT NULL DEFAULT '[]',
    message         TEXT,
    files_received  INTEGER NOT NULL DEFAULT 0 CHECK (files_received >= 0),
    closed_at       INTEGER,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX upload_requests_of_tenant ON upload_requests (tenant_id, created_at);
