-- Metadata placement (docs/tenants-placement.md): a tenant may have a
-- PostgreSQL database of its own for its files, users, grants, usage and
-- their audit log and events. The shared database stays its registry (this
-- row, its settings, flags, onboarding and billing). The name is chosen at
-- creation, never changed, and spliced into CREATE/DROP DATABASE, so it is
-- held to a plain lower-case identifier here as well as in the adapter.
ALTER TABLE tenants ADD COLUMN dedicated_database text
    CHECK (dedicated_database ~ '^[a-z_][a-z0-9_]{0,62}$');
CREATE UNIQUE INDEX tenants_dedicated_database ON tenants (dedicated_database)
    WHERE dedicated_database IS NOT NULL;

-- Onboarding has a step for it (between placement and admin_user).
ALTER TABLE tenant_onboardings DROP CONSTRAINT tenant_onboardings_current_step_check;
ALTER TABLE tenant_onboardings ADD CONSTRAINT tenant_onboardings_current_step_check
    CHECK (current_step IN ('placement', 'database', 'admin_user', 'activate'));
