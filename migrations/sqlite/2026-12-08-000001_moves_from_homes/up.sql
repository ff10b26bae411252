-- See migrations/postgres/2026-12-08-000001_moves_from_homes. The embedded
-- store has one placement, so no chain is ever sealed; the column keeps
-- the rows alike.
ALTER TABLE audit_chain_heads ADD COLUMN sealed_at INTEGER;
