-- See migrations/postgres/2026-12-06-000003_metadata_region. The embedded
-- store has no regional databases; the column keeps the rows alike.
ALTER TABLE tenants ADD COLUMN metadata_region TEXT;
