-- The audit log as a hash chain (see migrations/postgres, same name).
ALTER TABLE audit_events ADD COLUMN seq INTEGER CHECK (seq > 0);
ALTER TABLE audit_events ADD COLUMN hash BLOB CHECK (length(hash) = 32);
CREATE UNIQUE INDEX audit_events_chain ON audit_events (tenant_id, seq);

CREATE TABLE audit_chain_heads (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL CHECK (seq >= 0),
    hash      BLOB NOT NULL CHECK (length(hash) = 32)
);

-- Rows written before the chain get their links once, when the store
-- opens (in (at, id) order); nothing else may change an entry.
DROP TRIGGER audit_events_no_update;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (OLD.seq IS NULL AND NEW.seq IS NOT NULL
          AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id AND NEW.actor = OLD.actor
          AND NEW.action = OLD.action AND NEW.file_id IS OLD.file_id AND NEW.detail = OLD.detail
          AND NEW.request_id IS OLD.request_id AND NEW.client_addr IS OLD.client_addr
          AND NEW.at = OLD.at)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
