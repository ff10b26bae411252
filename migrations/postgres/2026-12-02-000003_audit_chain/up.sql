-- Each tenant's audit log is a hash chain (docs/audit.md): every entry
-- carries its place `seq` (1, 2, 3 … per tenant, no gaps) and `hash` =
-- SHA-256(previous hash || canonical bytes of the entry). The head row is
-- the chain's last link; an append locks it, so parallel writers of a
-- tenant queue there and never fork the chain. Rows written before this
-- migration get their links from `coffer migrate` (in (at, id) order),
-- which chains them once the columns exist.
ALTER TABLE audit_events ADD COLUMN seq bigint CHECK (seq > 0);
ALTER TABLE audit_events ADD COLUMN hash bytea CHECK (octet_length(hash) = 32);
CREATE UNIQUE INDEX audit_events_chain ON audit_events (tenant_id, seq);

CREATE TABLE audit_chain_heads (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    seq       bigint NOT NULL CHECK (seq >= 0),
    hash      bytea NOT NULL CHECK (octet_length(hash) = 32)
);
ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_chain_heads
    USING (tenant_id = coffer_current_tenant())
    WITH CHECK (tenant_id = coffer_current_tenant());
-- The service moves the head forward; it still may not touch the entries.
GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO coffer_app;
