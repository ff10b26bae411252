-- Malware scanning (docs/scanning.md): a verified upload waits as
-- `scanning` until the scanner's verdict makes it `available` or
-- `quarantined`; both hold their name and count toward usage.
ALTER TABLE files DROP CONSTRAINT files_status_check;
ALTER TABLE files ADD CONSTRAINT files_status_check
    CHECK (status IN ('pending', 'scanning', 'available', 'quarantined', 'deleted'));
-- The verdict as the domain serialises it: {"verdict": "clean" | "infected" | "unscannable", …}.
ALTER TABLE files ADD COLUMN scan_verdict jsonb
    CHECK (scan_verdict IS NULL OR jsonb_typeof(scan_verdict) = 'object');

DROP INDEX files_live_name;
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'scanning', 'available', 'quarantined')
      AND erase_started_at IS NULL;

-- The scan queue, with the registry (platform path): workers claim due rows
-- with FOR UPDATE SKIP LOCKED and a lease, as onboarding does.
CREATE TABLE scan_jobs (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    file_id     uuid NOT NULL,
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text,
    not_before  timestamptz NOT NULL,
    lease_until timestamptz,
    queued_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, file_id)
);
CREATE INDEX scan_jobs_due ON scan_jobs (not_before, queued_at);

ALTER TABLE scan_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON scan_jobs
    USING (coffer_platform()) WITH CHECK (coffer_platform());
GRANT SELECT, INSERT, UPDATE, DELETE ON scan_jobs TO coffer_app;
