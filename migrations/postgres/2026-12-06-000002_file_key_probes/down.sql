-- The composite key's rebuild (step 2) changed no definition.
ALTER TABLE file_terms DROP CONSTRAINT file_terms_file_id_fkey;
DROP INDEX file_terms_file;
CREATE INDEX file_terms_file ON file_terms (tenant_id, file_id);
ALTER TABLE file_terms ADD CONSTRAINT file_terms_tenant_id_file_id_fkey
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE;
