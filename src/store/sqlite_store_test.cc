#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "store/sqlite_schema.h"
#include "store/store_conformance.h"

namespace medvault::store {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir() {
  char tmpl[] = "/tmp/mv-store-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? fs::path(d) : fs::path();
}

std::unique_ptr<Store> open_fresh_sqlite() {
  auto dir = fresh_dir();
  auto s = open_sqlite(dir / "vault.db");
  if (!s.ok()) return nullptr;
  return std::move(s).value();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(StoreFactory{"sqlite", &open_fresh_sqlite}));

TEST(SqliteStore, MigrationsAreRecordedAndIdempotent) {
  auto dir = fresh_dir();
  {
    auto s = open_sqlite(dir / "vault.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  auto again = open_sqlite(dir / "vault.db");
  ASSERT_TRUE(again.ok()) << again.error().message;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "vault.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), sqlite_schema_version());
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(SqliteStore, RefusesNewerSchema) {
  auto dir = fresh_dir();
  { ASSERT_TRUE(open_sqlite(dir / "vault.db").ok()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "vault.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = open_sqlite(dir / "vault.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("newer"), std::string::npos);
}

TEST(SqliteStore, UsesWalAndNoTempFiles) {
  auto dir = fresh_dir();
  auto s = open_sqlite(dir / "vault.db");
  ASSERT_TRUE(s.ok());
  auto txn = (*s)->begin();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->put_meta("x", "y").ok());
  ASSERT_TRUE((*txn)->commit().ok());
  txn.value().reset();
  EXPECT_TRUE(fs::exists(dir / "vault.db-wal"));
  for (const auto& e : fs::directory_iterator(dir)) {
    auto name = e.path().filename().string();
    EXPECT_TRUE(name == "vault.db" || name == "vault.db-wal" || name == "vault.db-shm" || name == "vault.db-audit")
        << name;
  }
}

// A read scope: this thread's reads share one snapshot taken at its first
// read (a commit made after it is not seen until the scope ends), a nested
// scope is refused (the outer one holds), other threads see the commit.
TEST(SqliteStore, ReadScopeIsOneSnapshotForThisThread) {
  auto dir = fresh_dir();
  auto s = open_sqlite(dir / "vault.db");
  ASSERT_TRUE(s.ok());
  Store& st = **s;
  auto put = [&](const std::string& v) {
    auto txn = st.begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_meta("k", v).ok());
    ASSERT_TRUE((*txn)->commit().ok());
  };
  put("one");
  {
    auto scope = st.read_scope();
    ASSERT_NE(scope, nullptr);
    EXPECT_EQ(st.read_scope(), nullptr);
    auto before = st.meta("k");
    ASSERT_TRUE(before.ok() && before->has_value());
    EXPECT_EQ(**before, "one");
    put("two");
    auto inside = st.meta("k");
    ASSERT_TRUE(inside.ok() && inside->has_value());
    EXPECT_EQ(**inside, "one");
    std::string elsewhere;
    std::thread([&] {
      auto v = st.meta("k");
      if (v.ok() && v->has_value()) elsewhere = **v;
    }).join();
    EXPECT_EQ(elsewhere, "two");
  }
  auto after = st.meta("k");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ(**after, "two");
  EXPECT_NE(st.read_scope(), nullptr);
}

}  // namespace
}  // namespace medvault::store
