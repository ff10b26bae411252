-- Bulk upload sessions (temporary write credentials); see the PostgreSQL
-- migration of the same name.
CREATE TABLE upload_sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by        TEXT NOT NULL,
    bucket            TEXT NOT NULL,
    expires_at        INTEGER NOT NULL,
    registrable_until INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE INDEX upload_sessions_closing ON upload_sessions (registrable_until);
