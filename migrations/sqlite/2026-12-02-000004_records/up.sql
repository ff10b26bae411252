-- Records rules: see migrations/postgres/2026-12-02-000004_records.
ALTER TABLE files ADD COLUMN retention_mode TEXT
    CHECK (retention_mode IS NULL OR retention_mode IN ('governance', 'compliance'));
ALTER TABLE files ADD COLUMN retain_until INTEGER;
ALTER TABLE files ADD COLUMN legal_hold BOOLEAN NOT NULL DEFAULT 0;

CREATE TABLE legal_holds (
    id        TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    file_id   TEXT NOT NULL,
    reason    TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    placed_by TEXT NOT NULL,
    placed_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX legal_holds_file ON legal_holds (tenant_id, file_id, placed_at);
CREATE INDEX legal_holds_keyset ON legal_holds (tenant_id, placed_at, id);
CREATE INDEX files_binding ON files (tenant_id, retain_until)
    WHERE legal_hold OR retain_until IS NOT NULL;
