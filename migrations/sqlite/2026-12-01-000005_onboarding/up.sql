-- Onboarding as a job (docs/tenants-onboarding.md). SQLite has one writer,
-- so a claim is an UPDATE inside a BEGIN IMMEDIATE transaction.
CREATE TABLE tenant_onboardings (
    tenant_id     TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    admin_subject TEXT,
    current_step  TEXT CHECK (current_step IN ('placement', 'admin_user', 'activate')),
    steps_done    TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error    TEXT,
    lease_until   INTEGER,
    queued_at     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX tenant_onboardings_due ON tenant_onboardings (queued_at)
    WHERE state IN ('queued', 'running');
