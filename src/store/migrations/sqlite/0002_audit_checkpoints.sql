-- medvault SQLite schema, version 2: signed checkpoints of the audit log
-- (docs/formats/audit.md). Each row is a C2SP signed note over the Merkle
-- root of the first `size` entries, with that tree's compact range
-- ("frontier": popcount(size) concatenated 32-byte hashes, largest subtree
-- first) so that the log restores its tree at open from the last checkpoint
-- instead of rereading every leaf. Nothing here is patient data.
CREATE TABLE audit_checkpoint (
  size     INTEGER PRIMARY KEY,
  time     INTEGER NOT NULL,  -- ms since epoch, when it was signed
  note     BLOB    NOT NULL,
  frontier BLOB    NOT NULL
);
