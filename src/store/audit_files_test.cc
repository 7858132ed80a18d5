// The SQLite engine's audit log files (audit_files.h): segments, sequence,
// readers beside an appender, truncation and the repair of a torn tail.
#include "store/audit_files.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/audit_files_test_util.h"

namespace medvault::store {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t S = AuditFiles::kSegmentEntries;

fs::path fresh_dir() {
  char tmpl[] = "/tmp/mv-auditfiles-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? fs::path(d) : fs::path();
}

AuditRow row(uint64_t seq) {
  return {seq, static_cast<int64_t>(seq * 10), seq % 3 ? "p" + std::to_string(seq % 7) : "", "u" + std::to_string(seq % 2),
          "entry " + std::to_string(seq), std::string(32, static_cast<char>(seq)), std::string(32, 'c')};
}

void append_range(AuditFiles& f, uint64_t from, uint64_t to, uint64_t batch = 1000) {
  for (uint64_t a = from; a <= to; a += batch) {
    std::vector<AuditRow> rows;
    for (uint64_t s = a; s <= std::min(to, a + batch - 1); ++s) rows.push_back(row(s));
    ASSERT_TRUE(f.append(rows).ok()) << a;
  }
}

std::vector<uint64_t> seqs(AuditFiles& f, uint64_t first, uint64_t n) {
  std::vector<uint64_t> out;
  auto st = f.scan(first, n, [&](const AuditRowView& v) {
    EXPECT_EQ(v.entry, "entry " + std::to_string(v.seq));
    EXPECT_EQ(v.time_ms, static_cast<int64_t>(v.seq * 10));
    EXPECT_EQ(v.leaf_hash, std::string(32, static_cast<char>(v.seq)));
    out.push_back(v.seq);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
  return out;
}

std::unique_ptr<AuditFiles> open(const fs::path& dir) {
  auto f = AuditFiles::open(dir);
  EXPECT_TRUE(f.ok()) << f.error().message;
  return f.ok() ? std::move(f).value() : nullptr;
}

TEST(AuditFiles, AppendsScansAndRollsOverToTheNextSegment) {
  const auto dir = fresh_dir() / "log";
  auto f = open(dir);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->size(), 0u);
  append_range(*f, 1, S + 300);
  ASSERT_TRUE(f->sync().ok());
  EXPECT_EQ(f->size(), S + 300);
  EXPECT_TRUE(fs::exists(dir / "0000000000.log"));
  EXPECT_TRUE(fs::exists(dir / "0000000001.log"));
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);

  std::vector<uint64_t> want;
  for (uint64_t s = S - 5; s <= S + 5; ++s) want.push_back(s);
  EXPECT_EQ(seqs(*f, S - 5, 11), want) << "a scan crosses the segment boundary";
  EXPECT_EQ(seqs(*f, 1, UINT64_MAX).size(), S + 300);
  EXPECT_EQ(seqs(*f, S + 300, 10), std::vector<uint64_t>{S + 300});
  EXPECT_TRUE(seqs(*f, S + 301, 10).empty());

  auto again = open(dir);  // a fresh process
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size(), S + 300);
  EXPECT_EQ(seqs(*again, 12345, 3), (std::vector<uint64_t>{12345, 12346, 12347}));

  // A snapshot's extents: whole first segment, the second up to the entry.
  auto x = again->extents(S + 10);
  ASSERT_TRUE(x.ok()) << x.error().message;
  ASSERT_EQ(x->size(), 2u);
  EXPECT_EQ((*x)[0].name, "0000000000.log");
  EXPECT_EQ((*x)[0].bytes, fs::file_size(dir / "0000000000.log"));
  EXPECT_LT((*x)[1].bytes, fs::file_size(dir / "0000000001.log"));
  auto y = again->extents(S + 11);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ((*y)[1].bytes - (*x)[1].bytes, testing::encode_audit_record(row(S + 11)).size());
  fs::remove_all(dir.parent_path());
}

TEST(AuditFiles, ASequenceNumberIsNeverReusedOrSkipped) {
  const auto dir = fresh_dir() / "log";
  auto f = open(dir);
  ASSERT_TRUE(f);
  append_range(*f, 1, 5);
  EXPECT_EQ(f->append(std::vector<AuditRow>{row(3)}).error().code, Errc::conflict);
  EXPECT_EQ(f->append(std::vector<AuditRow>{row(7)}).error().code, Errc::conflict);
  EXPECT_EQ(f->append(std::vector<AuditRow>{row(6), row(8)}).error().code, Errc::conflict);
  EXPECT_EQ(f->size(), 5u);
  AuditRow bad = row(6);
  bad.leaf_hash = "short";
  EXPECT_FALSE(f->append(std::vector<AuditRow>{bad}).ok());
  EXPECT_EQ(seqs(*f, 1, 10).size(), 5u);
  fs::remove_all(dir.parent_path());
}

// Two instances stand for two processes on one vault (the writer lock is
// the caller's): each sees the other's entries once it refreshes.
TEST(AuditFiles, AnotherProcessSeesAppendsAfterRefresh) {
  const auto dir = fresh_dir() / "log";
  auto a = open(dir), b = open(dir);
  ASSERT_TRUE(a && b);
  append_range(*a, 1, 10);
  EXPECT_EQ(b->size(), 0u);
  auto n = b->refresh();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 10u);
  append_range(*b, 11, S + 2);
  EXPECT_EQ(a->size(), 10u);
  n = a->refresh();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, S + 2) << "the other process rolled over to the next segment";
  append_range(*a, S + 3, S + 4);
  EXPECT_EQ(seqs(*b, S, 10), (std::vector<uint64_t>{S, S + 1, S + 2, S + 3, S + 4}));
  fs::remove_all(dir.parent_path());
}

TEST(AuditFiles, TruncateTakesBackTheEntriesOfAFailedCommit) {
  const auto dir = fresh_dir() / "log";
  auto f = open(dir);
  ASSERT_TRUE(f);
  append_range(*f, 1, S + 50);
  ASSERT_TRUE(f->truncate(S - 1).ok());
  EXPECT_EQ(f->size(), S - 1);
  EXPECT_FALSE(fs::exists(dir / "0000000001.log"));
  append_range(*f, S, S + 1);
  ASSERT_TRUE(f->truncate(40).ok());
  EXPECT_EQ(f->size(), 40u);
  auto again = open(dir);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size(), 40u);
  EXPECT_EQ(seqs(*again, 1, UINT64_MAX).size(), 40u);
  append_range(*again, 41, 42);
  EXPECT_EQ(seqs(*again, 39, 10), (std::vector<uint64_t>{39, 40, 41, 42}));
  fs::remove_all(dir.parent_path());
}

// What a power cut leaves at the end: a record cut short, zeros, a record
// that fails its checksum, a segment with half its header. Cut after the
// trusted entry; kept (damage) at or before it.
TEST(AuditFiles, RepairCutsATornTailAfterTheTrustedEntryOnly) {
  const auto dir = fresh_dir() / "log";
  const fs::path seg = dir / "0000000000.log";
  {
    auto f = open(dir);
    ASSERT_TRUE(f);
    append_range(*f, 1, 20);
  }
  const auto full = fs::file_size(seg);
  fs::resize_file(seg, full - 5);
  {
    std::ofstream(seg, std::ios::binary | std::ios::app) << std::string(5000, '\0');
  }
  auto f = open(dir);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->size(), 19u) << "readers stop at the torn record";
  auto cut = f->repair_tail(20);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(*cut, 0u) << "entry 20 is damage below a checkpoint at 20";
  cut = f->repair_tail(10);
  ASSERT_TRUE(cut.ok()) << cut.error().message;
  EXPECT_EQ(*cut, 5000u + testing::encode_audit_record(row(20)).size() - 5);
  append_range(*f, 20, 21);
  EXPECT_EQ(open(dir)->size(), 21u);

  // A flipped byte in entry 21's record: it fails its checksum.
  {
    std::fstream io(seg, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(static_cast<std::streamoff>(fs::file_size(seg) - 3));
    io.put('\x7f');
  }
  f = open(dir);
  EXPECT_EQ(f->size(), 20u);
  ASSERT_TRUE(f->repair_tail(0).ok());
  EXPECT_EQ(fs::file_size(seg), full);
  EXPECT_EQ(seqs(*open(dir), 1, UINT64_MAX).size(), 20u);

  // A new segment whose header was never written.
  f.reset();
  {
    auto g = open(dir);
    append_range(*g, 21, S);
  }
  { std::ofstream(dir / "0000000001.log", std::ios::binary) << "MVAU"; }
  f = open(dir);
  ASSERT_TRUE(f->repair_tail(0).ok());
  EXPECT_EQ(fs::file_size(dir / "0000000001.log"), 16u);
  append_range(*f, S + 1, S + 1);
  EXPECT_EQ(seqs(*open(dir), S, 5), (std::vector<uint64_t>{S, S + 1}));
  fs::remove_all(dir.parent_path());
}

TEST(AuditFiles, AMissingOrForeignSegmentIsAnIntegrityErrorNamingTheEntry) {
  const auto dir = fresh_dir() / "log";
  {
    auto f = open(dir);
    append_range(*f, 1, S + 5);
  }
  fs::copy_file(dir / "0000000001.log", dir / "0000000002.log");  // a segment in the wrong place
  auto f = open(dir);
  EXPECT_EQ(f->size(), 2 * S);
  auto st = f->append(std::vector<AuditRow>{row(2 * S + 1)});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::integrity);
  EXPECT_NE(st.error().message.find("has a bad header"), std::string::npos) << st.error().message;
  fs::remove(dir / "0000000002.log");
  fs::remove(dir / "0000000000.log");
  f = open(dir);
  st = f->scan(1, 10, [](const AuditRowView&) { return true; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "audit entry 1: its segment file 0000000000.log is missing");
  EXPECT_EQ(seqs(*f, S + 1, 10).size(), 5u) << "what is there still reads";
  fs::remove_all(dir.parent_path());
}

// Queries over full segments (index files) and the open one (in memory),
// newest first; a damaged or stale index file is rebuilt.
TEST(AuditFiles, FindsByPatientUserAndTimeAcrossSegments) {
  const auto dir = fresh_dir() / "log";
  auto f = open(dir);
  ASSERT_TRUE(f);
  append_range(*f, 1, S + 300);
  // Expected answers for a log of n entries made by row().
  auto check = [&](AuditFiles& g, uint64_t n) {
    std::vector<uint64_t> want_p, want_u, want_t;
    for (uint64_t s = n; s >= 1; --s) {
      if (s % 3 && s % 7 == 3) want_p.push_back(s);
      if (s % 2 == 1) want_u.push_back(s);
      if (s >= S - 20 && s < S + 20) want_t.push_back(s);
    }
    auto p = g.find(AuditFiles::Key::patient, "p3", SIZE_MAX);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(*p, want_p);
    auto page = g.find(AuditFiles::Key::patient, "p3", 10);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(*page, std::vector<uint64_t>(want_p.begin(), want_p.begin() + 10));
    auto u = g.find(AuditFiles::Key::user, "u1", SIZE_MAX);
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(*u, want_u);
    auto none = g.find(AuditFiles::Key::patient, "p' OR 1=1 --", 10);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    auto t = g.find_time(static_cast<int64_t>(S - 20) * 10, static_cast<int64_t>(S + 20) * 10, SIZE_MAX);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, want_t);
    auto t3 = g.find_time(0, INT64_MAX, 3);
    ASSERT_TRUE(t3.ok());
    EXPECT_EQ(*t3, (std::vector<uint64_t>{n, n - 1, n - 2}));
  };
  check(*f, S + 300);
  EXPECT_TRUE(fs::exists(dir / "0000000000.idx"));
  EXPECT_FALSE(fs::exists(dir / "0000000001.idx")) << "the open segment is indexed in memory";
  append_range(*f, S + 301, S + 310);  // the in-memory index follows appends
  check(*f, S + 310);
  f.reset();
  {
    std::fstream io(dir / "0000000000.idx", std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(100);
    io.put('\x42');
  }
  auto g = open(dir);  // another process: a damaged index file is rebuilt
  check(*g, S + 310);
  fs::remove_all(dir.parent_path());
}

// A vault of schema 4 kept its log in the table `audit`: opening it moves
// every row into the files, byte for byte, and drops the table.
TEST(AuditFiles, OpeningASchema4VaultMovesItsAuditTableIntoTheFiles) {
  const auto dir = fresh_dir();
  const fs::path db = dir / "vault.db";
  { ASSERT_TRUE(open_sqlite(db).ok()); }
  sqlite3* c = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &c), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(c,
                         "CREATE TABLE audit(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, patient TEXT NOT NULL,"
                         " user TEXT NOT NULL, entry BLOB NOT NULL, leaf_hash BLOB NOT NULL, chain BLOB NOT NULL);"
                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<25000) "
                         "INSERT INTO audit SELECT i, i*10, 'p'||(i%7), 'u'||(i%2), 'entry '||i, zeroblob(32), "
                         "randomblob(32) FROM n;"
                         "CREATE TABLE audit_key(key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) "
                         "WITHOUT ROWID; INSERT INTO audit_key SELECT 'p:'||patient, seq FROM audit;"
                         "CREATE TABLE audit_time(time INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (time, seq)) "
                         "WITHOUT ROWID; INSERT INTO meta VALUES('audit_indexed', '25000');"
                         "DROP TABLE audit_pending; PRAGMA user_version=4;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(c);
  sqlite3_close(c);
  fs::remove_all(testing::audit_dir(db));  // as before schema 5
  // An interrupted earlier attempt left a partial copy: it is redone.
  {
    auto f = open(testing::audit_dir(db));
    append_range(*f, 1, 3);
  }
  auto s = open_sqlite(db);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto n = (*s)->audit_size();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 25000u);
  auto r = (*s)->audit_range(24999, 5);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].entry, "entry 24999");
  EXPECT_EQ((*r)[0].patient, "p" + std::to_string(24999 % 7));
  EXPECT_EQ((*r)[1].time_ms, 250000);
  auto byp = (*s)->audit_by_patient("p3", 2);
  ASSERT_TRUE(byp.ok()) << byp.error().message;
  ASSERT_EQ(byp->size(), 2u);
  uint64_t newest_p3 = 25000;
  while (newest_p3 % 7 != 3) --newest_p3;
  EXPECT_EQ((*byp)[0].seq, newest_p3);
  EXPECT_EQ((*byp)[1].seq, newest_p3 - 7);
  s.value().reset();
  ASSERT_EQ(sqlite3_open(db.c_str(), &c), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  for (const char* t : {"audit", "audit_key", "audit_time"}) {
    EXPECT_EQ(sqlite3_prepare_v2(c, (std::string("SELECT COUNT(*) FROM ") + t).c_str(), -1, &st, nullptr), SQLITE_ERROR)
        << t << " dropped";
    sqlite3_finalize(st);
  }
  sqlite3_close(c);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace medvault::store
