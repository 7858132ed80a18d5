-- medvault PostgreSQL schema, version 2: signed checkpoints of the audit log
-- (docs/formats/audit.md), as migrations/sqlite/0002_audit_checkpoints.sql.
-- `frontier` is the tree's compact range at `size`: popcount(size)
-- concatenated 32-byte hashes, largest subtree first.
CREATE TABLE audit_checkpoint (
  size     bigint PRIMARY KEY,
  time     bigint NOT NULL,  -- ms since epoch, when it was signed
  note     bytea  NOT NULL,
  frontier bytea  NOT NULL
);
