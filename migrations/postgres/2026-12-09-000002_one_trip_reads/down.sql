DROP FUNCTION coffer_tenant_file_grants(uuid, uuid);
DROP FUNCTION coffer_tenant_file(uuid, uuid);
