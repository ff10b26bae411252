-- Scanning cannot be undone without losing the scan states: quarantined
-- and scanning files would have no status to go back to.
DROP TABLE scan_jobs;
