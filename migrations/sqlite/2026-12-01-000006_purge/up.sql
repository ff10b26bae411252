-- The platform audit log (see migrations/postgres, same name).
CREATE TABLE platform_audit (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL,
    tenant_slug TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    at          INTEGER NOT NULL
);
CREATE TRIGGER platform_audit_no_update BEFORE UPDATE ON platform_audit
BEGIN
    SELECT RAISE(ABORT, 'platform_audit is append-only');
END;
CREATE TRIGGER platform_audit_no_delete BEFORE DELETE ON platform_audit
BEGIN
    SELECT RAISE(ABORT, 'platform_audit is append-only');
END;

-- A tenant being purged: only then may its audit records go (with it).
CREATE TABLE tenant_purges (tenant_id TEXT PRIMARY KEY NOT NULL);
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.tenant_id NOT IN (SELECT tenant_id FROM tenant_purges)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
