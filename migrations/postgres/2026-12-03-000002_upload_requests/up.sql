-- Upload requests (docs/sharing.md): a folder outside parties may upload
-- into through a public page. With the registry, like share links: the
-- page knows only the token, whose SHA-256 is all that is kept.
CREATE TABLE upload_requests (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_digest    bytea NOT NULL UNIQUE CHECK (length(token_digest) = 32),
    path            text NOT NULL,
    expires_at      timestamptz NOT NULL,
    max_files       integer NOT NULL CHECK (max_files > 0),
    max_size        bigint NOT NULL CHECK (max_size > 0),
    allowed_types   text[] NOT NULL DEFAULT '{}',
    message         text,
    files_received  integer NOT NULL DEFAULT 0 CHECK (files_received >= 0),
    closed_at       timestamptz,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX upload_requests_of_tenant ON upload_requests (tenant_id, created_at);

ALTER TABLE upload_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON upload_requests
    USING (coffer_platform()) WITH CHECK (coffer_platform());
GRANT SELECT, INSERT, UPDATE ON upload_requests TO coffer_app;
