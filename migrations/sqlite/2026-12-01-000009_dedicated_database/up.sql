-- See migrations/postgres/2026-12-01-000009_dedicated_database. The embedded
-- store has no dedicated databases; the column keeps the rows alike.
ALTER TABLE tenants ADD COLUMN dedicated_database TEXT;

-- Onboarding has a `database` step (nothing to do here, but recorded like
-- every step): SQLite cannot alter a CHECK, so the table is rebuilt.
CREATE TABLE tenant_onboardings_new (
    tenant_id     TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    admin_subject TEXT,
    current_step  TEXT CHECK (current_step IN ('placement', 'database', 'admin_user', 'activate')),
    steps_done    TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error    TEXT,
    lease_until   INTEGER,
    queued_at     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
INSERT INTO tenant_onboardings_new SELECT * FROM tenant_onboardings;
DROP TABLE tenant_onboardings;
ALTER TABLE tenant_onboardings_new RENAME TO tenant_onboardings;
CREATE INDEX tenant_onboardings_due ON tenant_onboardings (queued_at)
    WHERE state IN ('queued', 'running');
