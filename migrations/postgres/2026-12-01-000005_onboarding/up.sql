-- Onboarding as a job (docs/tenants-onboarding.md): one row per tenant
-- onboarded through the queue, with its steps' progress. Workers claim rows
-- with FOR UPDATE SKIP LOCKED, so several instances never run the same
-- onboarding at once; a worker that dies leaves its lease to run out.
CREATE TABLE tenant_onboardings (
    tenant_id     uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    state         text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    admin_subject text,
    current_step  text CHECK (current_step IN ('placement', 'admin_user', 'activate')),
    -- Comma-separated step names, in order.
    steps_done    text NOT NULL DEFAULT '',
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error    text,
    lease_until   timestamptz,
    queued_at     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- What workers claim: queued, or running with a lease that may have ended.
CREATE INDEX tenant_onboardings_due ON tenant_onboardings (queued_at)
    WHERE state IN ('queued', 'running');

-- The platform path, like the tenants table: tenant transactions see nothing.
ALTER TABLE tenant_onboardings ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_onboardings FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON tenant_onboardings
    USING (coffer_platform()) WITH CHECK (coffer_platform());
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_onboardings TO coffer_app;
