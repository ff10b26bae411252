-- Share links (docs/sharing.md), with the registry (platform path): the
-- public page knows only the token, so the link is found before its tenant,
-- wherever that tenant's data lives. No foreign key to files for the same
-- reason (a dedicated tenant's files are in another database); a link whose
-- file is gone opens nothing. Only the token's SHA-256 is kept.
CREATE TABLE share_links (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    file_id          uuid NOT NULL,
    token_digest     bytea NOT NULL UNIQUE CHECK (length(token_digest) = 32),
    password_hash    text,
    expires_at       timestamptz NOT NULL,
    max_downloads    integer CHECK (max_downloads > 0),
    downloads        integer NOT NULL DEFAULT 0 CHECK (downloads >= 0),
    wrong_passwords  integer NOT NULL DEFAULT 0 CHECK (wrong_passwords >= 0),
    wrong_since      timestamptz,
    revoked_at       timestamptz,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE INDEX share_links_of_file ON share_links (tenant_id, file_id, created_at);

ALTER TABLE share_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE share_links FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON share_links
    USING (coffer_platform()) WITH CHECK (coffer_platform());
GRANT SELECT, INSERT, UPDATE ON share_links TO coffer_app;
