DROP TABLE tenant_moves;
ALTER TABLE tenants DROP COLUMN writes_frozen_at;
