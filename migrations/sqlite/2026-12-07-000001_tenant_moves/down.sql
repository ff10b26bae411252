ALTER TABLE tenants DROP COLUMN writes_frozen_at;
