-- medvault SQLite schema, version 5: the audit log's entries move out of the
-- database into append-only segment files beside it (`vault.db-audit/`,
-- docs/formats/audit.md section 3); the engine copies every row there, synced,
-- inside this migration's transaction before this statement runs. Every read
-- appends an entry, and a commit to this file makes every reader connection
-- drop its page cache: the log in its own files leaves the database unchanged
-- by reads. The query indexes go too: a full segment gets an index file of its
-- own, the open one is indexed in memory. The checkpoints stay here.
DROP TABLE audit;
DROP TABLE audit_key;
DROP TABLE audit_time;
DELETE FROM meta WHERE key = 'audit_indexed';

-- The entries of a small change that also wrote the database (a FHIR write,
-- a sign-in), kept inside that change: the log's files are synced after
-- COMMIT, with everyone else's entries, and a power cut can keep the change
-- and lose the files' copy. At open, the rows after the files' last entry are
-- appended to the log again (audit::Log::open); rows the files hold are
-- deleted by later changes. Not patient data: canonical audit entries.
CREATE TABLE audit_pending (
  seq   INTEGER PRIMARY KEY,
  entry BLOB    NOT NULL
);
