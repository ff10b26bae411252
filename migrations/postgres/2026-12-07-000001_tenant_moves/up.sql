-- Moving a tenant to another placement (docs/tenants-placement.md).
--
-- While a move copies a tenant's rows, its writes are frozen: every
-- instance reads this from the tenant row (cached, dropped through the
-- change feed) and answers writes 503 until the switch clears it.
ALTER TABLE tenants ADD COLUMN writes_frozen_at timestamptz;

-- One move per tenant at a time, as a job: a worker claims it with FOR
-- UPDATE SKIP LOCKED and a lease, and whoever claims it after a crash goes
-- on from the first step not done. `source_*` keeps where the tenant was,
-- since its row points at the target once switched and the source's copy
-- is removed only after that.
CREATE TABLE tenant_moves (
    tenant_id          uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    state              text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    source_database    text,
    source_schema      text,
    source_bucket      text,
    target_database    text,
    target_schema      text,
    target_bucket      text,
    -- Comma-separated step names, in order.
    steps_done         text NOT NULL DEFAULT '',
    current_step       text,
    attempts           integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error         text,
    lease_until        timestamptz,
    queued_at          timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX tenant_moves_due ON tenant_moves (queued_at)
    WHERE state IN ('queued', 'running');

ALTER TABLE tenant_moves ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_moves FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON tenant_moves
    USING (coffer_platform()) WITH CHECK (coffer_platform());
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_moves TO coffer_app;
