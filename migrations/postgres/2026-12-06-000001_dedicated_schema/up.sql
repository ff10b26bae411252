-- Schema per tenant (docs/tenants-placement.md): a tenant may keep its
-- files, users, grants, usage, audit log and events in a schema of its own
-- in the shared database, the same tables as everywhere with row-level
-- security still on. The name is chosen at creation, never changed, and
-- spliced into CREATE/DROP SCHEMA and `SET LOCAL search_path`, so it is held
-- to a plain lower-case identifier here as well as in the adapter. A tenant
-- has a database or a schema of its own, never both.
ALTER TABLE tenants ADD COLUMN dedicated_schema text
    CHECK (dedicated_schema ~ '^[a-z_][a-z0-9_]{0,62}$'),
    ADD CONSTRAINT tenants_one_home
    CHECK (dedicated_database IS NULL OR dedicated_schema IS NULL);
CREATE UNIQUE INDEX tenants_dedicated_schema ON tenants (dedicated_schema)
    WHERE dedicated_schema IS NOT NULL;
