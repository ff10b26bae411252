-- Every change to a file row or its grants notifies the instances that
-- cache them (`coffer_file_changed`, the payload the tenant id;
-- crates/postgres/src/file_cache.rs), whoever makes it: the service on any
-- instance, the sweeps, an operator's SQL. Inserted files need none: only
-- files read as `available` are cached, and no absence is. PostgreSQL folds
-- identical notifications within a transaction (one per tenant) and delivers
-- them on commit, never on rollback, in commit order — which the cache's
-- fence relies on (docs/decisions.md, "A file cache as fresh as a read").
CREATE FUNCTION coffer_file_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('coffer_file_changed', OLD.tenant_id::text);
    ELSE
        PERFORM pg_notify('coffer_file_changed', NEW.tenant_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER files_changed AFTER UPDATE OR DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION coffer_file_changed();
CREATE TRIGGER grants_changed AFTER INSERT OR UPDATE OR DELETE ON grants
    FOR EACH ROW EXECUTE FUNCTION coffer_file_changed();
