-- medvault SQLite schema, version 3: the audit log's query indexes are
-- maintained in bulk, not row by row. Indexing every appended row by patient
-- dirtied one index page per patient per group commit and cost more than the
-- rows themselves; now an append writes only the log table (sequential pages)
-- and every 4,096 entries one statement indexes the whole stretch. Queries
-- read the index up to meta 'audit_indexed' and scan the short unindexed
-- tail after it (docs/formats/audit.md, "queries").
DROP INDEX audit_patient;
DROP INDEX audit_user;
DROP INDEX audit_time;

-- key: 'p:' || patient id, or 'u:' || account name.
CREATE TABLE audit_key (
  key TEXT    NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (key, seq)
) WITHOUT ROWID;

CREATE TABLE audit_time (
  time INTEGER NOT NULL,
  seq  INTEGER NOT NULL,
  PRIMARY KEY (time, seq)
) WITHOUT ROWID;

INSERT INTO audit_key SELECT 'p:' || patient, seq FROM audit WHERE patient <> '';
INSERT INTO audit_key SELECT 'u:' || user, seq FROM audit;
INSERT INTO audit_time SELECT time, seq FROM audit;
INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_indexed', (SELECT COALESCE(MAX(seq), 0) FROM audit));
