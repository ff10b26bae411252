-- See migrations/postgres/2026-12-07-000001_tenant_moves. The embedded
-- store has one placement, so nothing moves; the column keeps the rows alike.
ALTER TABLE tenants ADD COLUMN writes_frozen_at INTEGER;
