ALTER TABLE tenants DROP CONSTRAINT tenants_region_or_database;
ALTER TABLE tenants DROP COLUMN metadata_region;
