// Versioned schema migrations of the SQLite engine. The migrations are the
// plain SQL files in src/store/migrations/sqlite/, embedded at build time;
// PRAGMA user_version records the last one applied.
#pragma once

#include <functional>

#include "common/result.h"

struct sqlite3;

namespace medvault::store {

// Applies every migration newer than the database's user_version, each in its
// own transaction. Errc::io if the database is newer than this program.
// `before(v)`, if given, runs inside migration v's transaction (0-based:
// v = 4 is 0005_audit_files.sql) before its SQL: the work SQL cannot do
// (moving the audit table into its files).
Status apply_sqlite_migrations(sqlite3* db, const std::function<Status(int)>& before = {});

// Migration index of 0005_audit_files.sql, which drops the audit table.
inline constexpr int kAuditFilesMigration = 4;

int sqlite_schema_version();

}  // namespace medvault::store
