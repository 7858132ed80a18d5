-- medvault SQLite schema, version 4: one sealed policy-facts summary per
-- patient (vault/access_facts.h, docs/architecture.md "Policy facts"), so a
-- patient's first access after a restart decrypts one row instead of every
-- relationship and consent resource of the compartment. A cache checked
-- against the compartment's current rows before use; not in the meta table,
-- which is read whole (metas()) and would hold ~one row per patient.
CREATE TABLE facts_summary (
  patient TEXT PRIMARY KEY,  -- Patient logical id
  sealed  BLOB NOT NULL      -- XChaCha20-Poly1305, associated data binds the patient id
) WITHOUT ROWID;
