-- See migrations/postgres/2026-12-06-000001_dedicated_schema. The embedded
-- store has no schemas; the column keeps the rows alike.
ALTER TABLE tenants ADD COLUMN dedicated_schema TEXT;
