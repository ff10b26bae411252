DROP POLICY platform_reads ON users;
DROP POLICY platform_reads ON usage_counters;
DROP TABLE platform_audit;
