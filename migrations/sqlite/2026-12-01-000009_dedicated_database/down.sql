ALTER TABLE tenants DROP COLUMN dedicated_database;
