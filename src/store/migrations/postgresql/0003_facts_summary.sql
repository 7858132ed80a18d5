-- medvault PostgreSQL schema, version 3: sealed policy-facts summaries, as
-- migrations/sqlite/0004_facts_summary.sql.
CREATE TABLE facts_summary (
  patient bytea PRIMARY KEY,
  sealed  bytea NOT NULL
);
