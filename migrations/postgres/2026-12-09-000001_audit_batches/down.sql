DROP POLICY audit_batch_heads ON audit_chain_heads;
DROP POLICY audit_batch_appends ON audit_events;
DROP FUNCTION coffer_in_audit_batch(uuid);
