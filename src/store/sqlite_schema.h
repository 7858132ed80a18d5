// Versioned schema migrations of the SQLite engine. The migrations are the
// plain SQL files in src/store/migrations/sqlite/, embedded at build time;
// PRAGMA user_version records the last one applied.
#pragma once

#include "common/result.h"

struct sqlite3;

namespace medvault::store {

// Applies every migration newer than the database's user_version, each in its
// own transaction. Errc::io if the database is newer than this program.
Status apply_sqlite_migrations(sqlite3* db);

int sqlite_schema_version();

}  // namespace medvault::store
