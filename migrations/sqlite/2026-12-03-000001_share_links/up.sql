-- Share links; see the PostgreSQL migration of the same name.
CREATE TABLE share_links (
    id               TEXT PRIMARY KEY NOT NULL,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    file_id          TEXT NOT NULL,
    token_digest     BLOB NOT NULL UNIQUE CHECK (length(token_digest) = 32),
    password_hash    TEXT,
    expires_at       INTEGER NOT NULL,
    max_downloads    INTEGER CHECK (max_downloads > 0),
    downloads        INTEGER NOT NULL DEFAULT 0 CHECK (downloads >= 0),
    wrong_passwords  INTEGER NOT NULL DEFAULT 0 CHECK (wrong_passwords >= 0),
    wrong_since      INTEGER,
    revoked_at       INTEGER,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX share_links_of_file ON share_links (tenant_id, file_id, created_at);
