REVOKE UPDATE (bucket) ON file_versions FROM coffer_app;
ALTER TABLE tenant_moves DROP COLUMN source_region, DROP COLUMN target_region;
ALTER TABLE tenant_moves DROP COLUMN source_metadata_region, DROP COLUMN target_metadata_region;
DROP TRIGGER audit_chain_sealed ON audit_chain_heads;
DROP FUNCTION coffer_refuse_sealed_append();
ALTER TABLE audit_chain_heads DROP COLUMN sealed_at;
