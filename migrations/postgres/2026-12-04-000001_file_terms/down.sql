DROP TRIGGER files_terms_update ON files;
DROP TRIGGER files_terms_insert ON files;
DROP TABLE file_terms;
DROP FUNCTION coffer_file_terms_update();
DROP FUNCTION coffer_file_terms_insert();
DROP FUNCTION coffer_file_terms(text, jsonb, text);
DROP FUNCTION coffer_path_terms(text);
DROP FUNCTION coffer_metadata_terms(jsonb);
DROP FUNCTION coffer_name_terms(text);

CREATE INDEX files_metadata ON files USING gin (metadata jsonb_path_ops);
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX files_filename_search ON files USING gin (lower(filename) gin_trgm_ops)';
    ELSE
        EXECUTE 'CREATE INDEX files_filename_search ON files (tenant_id, lower(filename) text_pattern_ops)';
    END IF;
END
$$;
