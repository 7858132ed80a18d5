-- medvault SQLite schema, version 1.
-- Nothing here holds patient data in clear: bodies are ciphertexts, search
-- tokens are keyed blind indexes, ids are meaningless logical ids.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- Every version of every resource. A rowid table: bodies of ~1 KB in a
-- WITHOUT ROWID table spill onto overflow pages (measured: 2.7x the bytes
-- and 3.6x slower inserts); "latest version" is a seek in the primary-key
-- index, then one in the table.
CREATE TABLE resource_version (
  type         TEXT    NOT NULL,
  id           TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  key_id       INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,  -- ms since epoch, time of the write
  deleted      INTEGER NOT NULL,
  compartment  TEXT    NOT NULL,  -- patient logical id or ''
  body         BLOB    NOT NULL,  -- XChaCha20-Poly1305 blob, docs/formats/crypto.md
  PRIMARY KEY (type, id, version)
);
CREATE INDEX resource_version_time ON resource_version (last_updated);
CREATE INDEX resource_version_type_time ON resource_version (type, last_updated);

-- The current version of each resource, for search, compartments and counts.
CREATE TABLE resource (
  type         TEXT    NOT NULL,
  id           TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  key_id       INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  deleted      INTEGER NOT NULL,
  compartment  TEXT    NOT NULL,
  PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE INDEX resource_compartment ON resource (compartment);
CREATE INDEX resource_type_time ON resource (type, last_updated);

-- Keyed blind-index tokens of the current version of each resource.
CREATE TABLE search_token (
  type  TEXT NOT NULL,
  param TEXT NOT NULL,
  token BLOB NOT NULL,
  id    TEXT NOT NULL,
  PRIMARY KEY (type, param, token, id)
) WITHOUT ROWID;
CREATE INDEX search_token_owner ON search_token (type, id);

-- Versioned key-encryption keys, wrapped by a master-derived key.
CREATE TABLE kek (
  version INTEGER PRIMARY KEY,
  wrapped BLOB    NOT NULL,
  created INTEGER NOT NULL
);

-- Per-patient data keys, wrapped by a KEK.
CREATE TABLE dek (
  key_id      INTEGER PRIMARY KEY,
  compartment TEXT    NOT NULL UNIQUE,
  kek_version INTEGER NOT NULL,
  wrapped     BLOB    NOT NULL
);

-- The audit log: gap-free sequence, canonical entry bytes, RFC 9162 leaf
-- hash and MAC chain (docs/formats/audit.md).
CREATE TABLE audit (
  seq       INTEGER PRIMARY KEY,
  time      INTEGER NOT NULL,
  patient   TEXT    NOT NULL,
  user      TEXT    NOT NULL,
  entry     BLOB    NOT NULL,
  leaf_hash BLOB    NOT NULL,
  chain     BLOB    NOT NULL
);
CREATE INDEX audit_patient ON audit (patient, seq) WHERE patient <> '';
CREATE INDEX audit_user ON audit (user, seq);
CREATE INDEX audit_time ON audit (time);

CREATE TABLE account (
  username TEXT PRIMARY KEY,
  role     TEXT    NOT NULL,
  data     TEXT    NOT NULL,
  created  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE token (
  hash      BLOB PRIMARY KEY,
  token_id  TEXT    NOT NULL UNIQUE,
  username  TEXT    NOT NULL,
  kind      TEXT    NOT NULL,
  created   INTEGER NOT NULL,
  expires   INTEGER NOT NULL,
  last_used INTEGER NOT NULL,
  revoked   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX token_user ON token (username);
