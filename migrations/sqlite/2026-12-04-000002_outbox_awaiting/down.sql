DROP INDEX outbox_awaiting;
