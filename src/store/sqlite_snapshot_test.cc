// SqliteStore::snapshot: the streamed image is a consistent, complete copy
// of the database, delivered as store.h promises (ascending pieces of at
// most 1 MiB, the first page last), while a writer goes on.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "store/store.h"

namespace medvault::store {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir() {
  char tmpl[] = "/tmp/mv-snap-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? fs::path(d) : fs::path();
}

// Runs SQL on its own connection to `db` (a second writer beside the store).
void exec(const fs::path& db, const std::string& sql) {
  sqlite3* c = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &c), SQLITE_OK);
  sqlite3_busy_timeout(c, 10000);
  ASSERT_EQ(sqlite3_exec(c, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(c);
  sqlite3_close(c);
}

// Rows of the filler table as (id -> bytes), read through SQLite.
std::map<int64_t, std::string> filler_rows(const fs::path& db) {
  std::map<int64_t, std::string> out;
  sqlite3* c = nullptr;
  if (sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(c, "SELECT id, x FROM filler", -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW)
      out[sqlite3_column_int64(st, 0)] =
          std::string(static_cast<const char*>(sqlite3_column_blob(st, 1)), sqlite3_column_bytes(st, 1));
  }
  sqlite3_finalize(st);
  sqlite3_close(c);
  return out;
}

std::string integrity(const fs::path& db) {
  sqlite3* c = nullptr;
  std::string r = "cannot open";
  if (sqlite3_open(db.c_str(), &c) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      r = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(c);
  return r;
}

// A store with ~12 MB of incompressible rows: far more than SQLite's page
// cache, so the copy spills pages while it runs.
struct Filled {
  fs::path dir;
  std::unique_ptr<Store> store;
};
Filled filled_store() {
  Filled f;
  f.dir = fresh_dir();
  auto s = open_sqlite(f.dir / "vault.db");
  EXPECT_TRUE(s.ok());
  if (!s.ok()) return f;
  f.store = std::move(s).value();
  exec(f.dir / "vault.db",
       "CREATE TABLE filler(id INTEGER PRIMARY KEY, x BLOB);"
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<3000) "
       "INSERT INTO filler SELECT i, randomblob(4000) FROM n;");
  return f;
}

struct Collected {
  std::vector<std::pair<uint64_t, size_t>> pieces;  // offset, size
  std::string image;
};

Store::SnapshotSink collect(Collected& c) {
  return [&c](uint64_t off, std::string_view bytes) -> Status {
    c.pieces.emplace_back(off, bytes.size());
    if (c.image.size() < off + bytes.size()) c.image.resize(off + bytes.size());
    c.image.replace(off, bytes.size(), bytes);
    return ok_status();
  };
}

void write_image(const fs::path& p, const std::string& image) {
  std::ofstream(p, std::ios::binary).write(image.data(), static_cast<std::streamsize>(image.size()));
}

TEST(SqliteSnapshot, StreamsTheWholeDatabaseInOrderWithTheFirstPageLast) {
  auto f = filled_store();
  ASSERT_TRUE(f.store);
  Collected c;
  auto n = f.store->snapshot(collect(c));
  ASSERT_TRUE(n.ok()) << n.error().message;

  ASSERT_GE(c.pieces.size(), 3u);
  const size_t page = c.pieces.back().second;
  EXPECT_EQ(c.pieces.back().first, 0u) << "the head comes last";
  EXPECT_EQ(c.pieces.front().first, page) << "the first piece starts where the head ends";
  uint64_t next = page;
  for (size_t i = 0; i + 1 < c.pieces.size(); ++i) {
    EXPECT_EQ(c.pieces[i].first, next) << "piece " << i;
    EXPECT_LE(c.pieces[i].second, 1u << 20);
    next += c.pieces[i].second;
  }
  EXPECT_EQ(next, c.image.size());
  EXPECT_GT(c.image.size(), 11u << 20);

  const fs::path copy = f.dir / "copy.db";
  write_image(copy, c.image);
  EXPECT_EQ(integrity(copy), "ok");
  auto want = filler_rows(f.dir / "vault.db");
  EXPECT_EQ(want.size(), 3000u);
  EXPECT_TRUE(filler_rows(copy) == want) << "the copy holds the same rows";
  fs::remove_all(f.dir);
}

TEST(SqliteSnapshot, IsOneConsistentStateWhileAWriterGoesOn) {
  auto f = filled_store();
  ASSERT_TRUE(f.store);
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  // Each transaction adds a row and rewrites a row spread over the file: a
  // torn copy would mix states and fail the checks below.
  std::thread writer([&] {
    sqlite3* c = nullptr;
    sqlite3_open((f.dir / "vault.db").c_str(), &c);
    sqlite3_busy_timeout(c, 10000);
    sqlite3_exec(c, "CREATE TABLE IF NOT EXISTS tally(total INTEGER)", nullptr, nullptr, nullptr);
    sqlite3_exec(c, "INSERT INTO tally VALUES(0)", nullptr, nullptr, nullptr);
    for (int i = 0; !stop.load(); ++i) {
      std::string sql = "BEGIN; INSERT INTO filler(x) VALUES(randomblob(4000)); UPDATE filler SET x=randomblob(4000) "
                        "WHERE id=" + std::to_string(1 + (i * 7919) % 3000) + "; UPDATE tally SET total=total+1; COMMIT;";
      if (sqlite3_exec(c, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK) ++written;
    }
    sqlite3_close(c);
  });
  while (written.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Collected c;
  auto n = f.store->snapshot(collect(c));
  stop = true;
  writer.join();
  ASSERT_TRUE(n.ok()) << n.error().message;

  const fs::path copy = f.dir / "copy.db";
  write_image(copy, c.image);
  ASSERT_EQ(integrity(copy), "ok");
  // One state: the tally equals the rows the same transactions inserted.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(copy.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT (SELECT total FROM tally), (SELECT COUNT(*) FROM filler)", -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  const int64_t tally = sqlite3_column_int64(st, 0), rows = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_EQ(rows, 3000 + tally);
  EXPECT_GE(tally, 20);
  EXPECT_LE(tally, written.load());
  fs::remove_all(f.dir);
}

// The copy's audit entries are exactly those of the changes in it: each
// change below writes meta 'n' = i and audit entry i, while snapshots are
// taken; in every image, n equals the entry count the snapshot reports,
// and the segment bytes it names hold exactly those entries.
TEST(SqliteSnapshot, TheAuditEntriesOfTheCopyAreThoseOfItsChanges) {
  auto f = filled_store();
  ASSERT_TRUE(f.store);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> committed{0};
  std::thread writer([&] {
    for (uint64_t i = 1; !stop.load(); ++i) {
      auto txn = f.store->begin();
      if (!txn.ok()) return;
      if (!(*txn)->put_meta("n", std::to_string(i)).ok()) return;
      if (!(*txn)->append_audit({{i, 1, "", "u", "change " + std::to_string(i), std::string(32, 'h'),
                                  std::string(32, 'c')}}).ok())
        return;
      if (!(*txn)->commit_unsynced().ok()) return;
      committed = i;
    }
  });
  while (committed.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int round = 0; round < 3; ++round) {
    Collected c;
    auto info = f.store->snapshot(collect(c));
    ASSERT_TRUE(info.ok()) << info.error().message;
    const fs::path copy = f.dir / "copy.db";
    write_image(copy, c.image);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(copy.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='n'", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    const uint64_t n = std::stoull(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    sqlite3_close(db);
    EXPECT_EQ(n, info->audit_entries) << "round " << round;
    ASSERT_EQ(info->files.size(), 1u);
    EXPECT_EQ(info->files[0].name, "vault.db-audit/0000000000.log");
    std::string seg(info->files[0].bytes, '\0');
    std::ifstream(info->files[0].path, std::ios::binary).read(seg.data(), static_cast<std::streamsize>(seg.size()));
    const std::string last = "change " + std::to_string(n);
    EXPECT_EQ(seg.compare(seg.size() - last.size(), last.size(), last), 0) << "the named bytes end at entry n";
    fs::remove(copy);
  }
  stop = true;
  writer.join();
  fs::remove_all(f.dir);
}

TEST(SqliteSnapshot, AnErrorFromTheSinkStopsTheCopyAndIsReturned) {
  auto f = filled_store();
  ASSERT_TRUE(f.store);
  int calls = 0;
  auto n = f.store->snapshot([&](uint64_t, std::string_view) -> Status {
    if (++calls == 5) return make_error(Errc::io, "target full");
    return ok_status();
  });
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, Errc::io);
  EXPECT_EQ(n.error().message, "target full");
  EXPECT_EQ(calls, 5) << "no piece after the error";
  // The store still works and a later snapshot succeeds.
  Collected c;
  ASSERT_TRUE(f.store->snapshot(collect(c)).ok());
  fs::remove_all(f.dir);
}

}  // namespace
}  // namespace medvault::store
