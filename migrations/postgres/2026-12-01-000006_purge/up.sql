-- The platform audit log: platform actions on whole tenants (a purge),
-- kept after the tenant and its own audit log are gone. Append-only for the
-- service role, visible on the platform path only.
CREATE TABLE platform_audit (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    tenant_slug text NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL
);
CREATE INDEX platform_audit_keyset ON platform_audit (at, id);
ALTER TABLE platform_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_audit FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON platform_audit
    USING (coffer_platform()) WITH CHECK (coffer_platform());
GRANT SELECT, INSERT ON platform_audit TO coffer_app;

-- The platform path reads usage counters and users across tenants — for
-- platform metrics, and nothing else (no files, grants or audit).
CREATE POLICY platform_reads ON usage_counters FOR SELECT USING (coffer_platform());
CREATE POLICY platform_reads ON users FOR SELECT USING (coffer_platform());
