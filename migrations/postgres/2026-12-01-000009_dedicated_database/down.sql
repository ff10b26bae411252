ALTER TABLE tenant_onboardings DROP CONSTRAINT tenant_onboardings_current_step_check;
ALTER TABLE tenant_onboardings ADD CONSTRAINT tenant_onboardings_current_step_check
    CHECK (current_step IN ('placement', 'admin_user', 'activate'));
DROP INDEX tenants_dedicated_database;
ALTER TABLE tenants DROP COLUMN dedicated_database;
