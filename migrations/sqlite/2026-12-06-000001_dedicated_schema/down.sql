ALTER TABLE tenants DROP COLUMN dedicated_schema;
