ALTER TABLE tenants DROP COLUMN metadata_region;
