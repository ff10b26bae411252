DROP FUNCTION coffer_tenant_file_read(uuid, uuid);
