DROP TABLE legal_holds;
DROP INDEX files_binding;
ALTER TABLE files DROP CONSTRAINT files_retention_whole;
ALTER TABLE files DROP COLUMN legal_hold;
ALTER TABLE files DROP COLUMN retain_until;
ALTER TABLE files DROP COLUMN retention_mode;
