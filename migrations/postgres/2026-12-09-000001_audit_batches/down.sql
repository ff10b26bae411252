DROP POLICY audit_batch_heads ON audit_chain_heads;
DROP POLICY audit_batch_appends ON audit_events;
DROP FUNCTION coffer_audit_batch();
