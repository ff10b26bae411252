DROP TRIGGER grants_changed ON grants;
DROP TRIGGER files_changed ON files;
DROP FUNCTION coffer_file_changed();
