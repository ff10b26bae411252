-- Records rules (docs/records.md): a file's retention and its legal holds.
-- `legal_hold` mirrors "some hold exists", kept in the transaction that
-- places or releases one, so every removal checks one row.
ALTER TABLE files ADD COLUMN retention_mode text
    CHECK (retention_mode IN ('governance', 'compliance'));
ALTER TABLE files ADD COLUMN retain_until timestamptz;
ALTER TABLE files ADD CONSTRAINT files_retention_whole
    CHECK ((retention_mode IS NULL) = (retain_until IS NULL));
ALTER TABLE files ADD COLUMN legal_hold boolean NOT NULL DEFAULT false;

CREATE TABLE legal_holds (
    id        uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    file_id   uuid NOT NULL,
    reason    text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    placed_by text NOT NULL,
    placed_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX legal_holds_file ON legal_holds (tenant_id, file_id, placed_at);
CREATE INDEX legal_holds_keyset ON legal_holds (tenant_id, placed_at, id);
-- What blocks a tenant's purge, found without a scan.
CREATE INDEX files_binding ON files (tenant_id, retain_until)
    WHERE legal_hold OR retain_until IS NOT NULL;

ALTER TABLE legal_holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE legal_holds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON legal_holds
    USING (tenant_id = coffer_current_tenant())
    WITH CHECK (tenant_id = coffer_current_tenant());
GRANT SELECT, INSERT, DELETE ON legal_holds TO coffer_app;
