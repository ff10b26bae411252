-- Regional shared databases (docs/tenants-placement.md): a tenant of a
-- region with a shared database of its own keeps its files, users, grants,
-- usage, audit log and events there; this registry keeps its row, settings
-- and flags. The column names that region (NULL: this database), chosen at
-- creation and never changed, so that configuring a region later does not
-- re-route tenants whose data is here. Not with a dedicated database, which
-- is made on its region's server already.
ALTER TABLE tenants ADD COLUMN metadata_region text,
    ADD CONSTRAINT tenants_region_or_database
    CHECK (metadata_region IS NULL OR dedicated_database IS NULL);
