ALTER TABLE tenants DROP CONSTRAINT tenants_one_home;
ALTER TABLE tenants DROP COLUMN dedicated_schema;
