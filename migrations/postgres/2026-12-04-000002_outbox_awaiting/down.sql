DROP INDEX outbox_awaiting;
DROP POLICY platform_reads_undelivered ON outbox;
