-- Bulk upload sessions (temporary write credentials), with the registry
-- (platform path) like the scan queue: one sweep finds every tenant's
-- closed sessions, wherever the tenant's data lives.
CREATE TABLE upload_sessions (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by        text NOT NULL,
    bucket            text NOT NULL,
    expires_at        timestamptz NOT NULL,
    registrable_until timestamptz NOT NULL CHECK (registrable_until >= expires_at),
    created_at        timestamptz NOT NULL
);
CREATE INDEX upload_sessions_closing ON upload_sessions (registrable_until);

ALTER TABLE upload_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON upload_sessions
    USING (coffer_platform()) WITH CHECK (coffer_platform());
GRANT SELECT, INSERT, DELETE ON upload_sessions TO coffer_app;
