// Versioned schema migrations of the PostgreSQL engine: the plain SQL files in
// src/store/migrations/postgresql/, embedded at build time; the table
// schema_migrations records each one applied (open_postgres applies them).
#pragma once

namespace medvault::store {

// The schema version this program writes (the number of migrations).
int postgres_schema_version();

}  // namespace medvault::store
