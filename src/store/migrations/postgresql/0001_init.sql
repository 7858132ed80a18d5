-- medvault PostgreSQL schema, version 1: the logical schema of the SQLite
-- engine (migrations/sqlite/0001_init.sql). Nothing here holds patient data
-- in clear: bodies are ciphertexts, search tokens are keyed blind indexes,
-- ids are meaningless logical ids.
--
-- Every string column is bytea, not text: ids, tokens and names then compare
-- and sort byte-wise as in SQLite (whatever the database's collation and
-- encoding), and any byte string round-trips (text refuses NUL and invalid
-- UTF-8). Times and ids are bigint (ms since the epoch for times).

CREATE TABLE meta (
  key   bytea PRIMARY KEY,
  value bytea NOT NULL
);

-- Every version of every resource.
CREATE TABLE resource_version (
  type         bytea   NOT NULL,
  id           bytea   NOT NULL,
  version      bigint  NOT NULL,
  key_id       bigint  NOT NULL,
  last_updated bigint  NOT NULL,  -- ms since epoch, time of the write
  deleted      boolean NOT NULL,
  compartment  bytea   NOT NULL,  -- patient logical id or ''
  body         bytea   NOT NULL,  -- XChaCha20-Poly1305 blob, docs/formats/crypto.md
  PRIMARY KEY (type, id, version)
);
CREATE INDEX resource_version_time ON resource_version (last_updated);
CREATE INDEX resource_version_type_time ON resource_version (type, last_updated);

-- The current version of each resource, for search, compartments and counts.
CREATE TABLE resource (
  type         bytea   NOT NULL,
  id           bytea   NOT NULL,
  version      bigint  NOT NULL,
  key_id       bigint  NOT NULL,
  last_updated bigint  NOT NULL,
  deleted      boolean NOT NULL,
  compartment  bytea   NOT NULL,
  PRIMARY KEY (type, id)
);
CREATE INDEX resource_compartment ON resource (compartment);
CREATE INDEX resource_type_time ON resource (type, last_updated);

-- Keyed blind-index tokens of the current version of each resource.
CREATE TABLE search_token (
  type  bytea NOT NULL,
  param bytea NOT NULL,
  token bytea NOT NULL,
  id    bytea NOT NULL,
  PRIMARY KEY (type, param, token, id)
);
CREATE INDEX search_token_owner ON search_token (type, id);

-- Versioned key-encryption keys, wrapped by a master-derived key.
CREATE TABLE kek (
  version bigint PRIMARY KEY,
  wrapped bytea  NOT NULL,
  created bigint NOT NULL
);

-- Per-patient data keys, wrapped by a KEK. key_id is assigned by the engine
-- as max+1 under the writer lock (as SQLite's rowid).
CREATE TABLE dek (
  key_id      bigint PRIMARY KEY,
  compartment bytea  NOT NULL UNIQUE,
  kek_version bigint NOT NULL,
  wrapped     bytea  NOT NULL
);

-- The audit log: gap-free sequence, canonical entry bytes, RFC 9162 leaf
-- hash and MAC chain (docs/formats/audit.md). `username` is SQLite's `user`
-- (a reserved word here).
CREATE TABLE audit (
  seq       bigint PRIMARY KEY,
  time      bigint NOT NULL,
  patient   bytea  NOT NULL,
  username  bytea  NOT NULL,
  entry     bytea  NOT NULL,
  leaf_hash bytea  NOT NULL,
  chain     bytea  NOT NULL
);
CREATE INDEX audit_patient ON audit (patient, seq) WHERE patient <> ''::bytea;
CREATE INDEX audit_user ON audit (username, seq);
CREATE INDEX audit_time ON audit (time);

CREATE TABLE account (
  username bytea PRIMARY KEY,
  role     bytea  NOT NULL,
  data     bytea  NOT NULL,
  created  bigint NOT NULL
);

CREATE TABLE token (
  hash      bytea   PRIMARY KEY,
  token_id  bytea   NOT NULL UNIQUE,
  username  bytea   NOT NULL,
  kind      bytea   NOT NULL,
  created   bigint  NOT NULL,
  expires   bigint  NOT NULL,
  last_used bigint  NOT NULL,
  revoked   boolean NOT NULL
);
CREATE INDEX token_user ON token (username);
