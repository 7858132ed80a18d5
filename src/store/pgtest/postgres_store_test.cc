// The PostgreSQL engine: the unchanged conformance suite, then what only a
// shared server has: several nodes on one database, reconnection after a
// restart, migrations racing, hostile bytes, messages without values.
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/pg_test_cluster.h"
#include "store/postgres_schema.h"
// The suite's tests are compiled in sqlite_store_test.cc (same binary); this
// file instantiates them for PostgreSQL.
#define MEDVAULT_STORE_CONFORMANCE_FIXTURE_ONLY
#include "store/store_conformance.h"

namespace medvault::store {
namespace {

using testing::PgClusterEnvironment;
using testing::PgTestCluster;

PgTestCluster* cluster() {
  auto* c = PgClusterEnvironment::cluster();
  EXPECT_NE(c, nullptr) << PgClusterEnvironment::error();
  return c;
}

std::string fresh_db() {
  auto* c = cluster();
  return c ? c->create_database() : std::string();
}

std::unique_ptr<Store> open_or_null(const std::string& conninfo) {
  auto s = open_postgres(conninfo);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? std::move(s).value() : nullptr;
}

std::unique_ptr<Store> open_fresh_pg() {
  auto db = fresh_db();
  return db.empty() ? nullptr : open_or_null(db);
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance,
                         ::testing::Values(StoreFactory{"postgresql", &open_fresh_pg}));

// One SQL query as the superuser; the first column of the first row as text.
std::string query(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string out = "<error>";
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

AuditRow audit_row(uint64_t seq, const std::string& user) {
  return AuditRow{seq, static_cast<int64_t>(seq), "", user, "entry" + std::to_string(seq),
                  std::string(32, 'h'), std::string(32, 'c')};
}

// Appends one audit row the way the audit log does: inside the writer
// transaction, at the store's head + 1.
Status append_next(Store& s, const std::string& user) {
  MV_ASSIGN(auto txn, s.begin());
  MV_ASSIGN(uint64_t head, s.audit_size());
  MV_TRY(txn->append_audit({audit_row(head + 1, user)}));
  return txn->commit();
}

class PostgresStore : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = fresh_db();
    ASSERT_FALSE(db_.empty());
    a_ = open_or_null(db_);
    b_ = open_or_null(db_);
    ASSERT_TRUE(a_ && b_);
  }
  std::string db_;
  std::unique_ptr<Store> a_, b_;  // two "nodes" on one database
};

TEST_F(PostgresStore, MigrationsAreRecordedAndIdempotent) {
  EXPECT_EQ(query(db_, "SELECT max(version) FROM schema_migrations"),
            std::to_string(postgres_schema_version()));
  EXPECT_EQ(query(db_, "SELECT count(*) FROM schema_migrations"),
            std::to_string(postgres_schema_version()));
  ASSERT_TRUE(open_postgres(db_).ok());  // a third open applies nothing
  EXPECT_EQ(query(db_, "SELECT count(*) FROM schema_migrations"),
            std::to_string(postgres_schema_version()));
  EXPECT_TRUE(a_->integrity_check().ok());
}

TEST(PostgresStoreOpen, NodesStartingTogetherDoNotRace) {
  auto db = fresh_db();
  ASSERT_FALSE(db.empty());
  std::atomic<int> ok{0};
  std::vector<std::thread> nodes;
  for (int i = 0; i < 4; ++i)
    nodes.emplace_back([&] {
      auto s = open_postgres(db);
      if (s.ok()) ++ok;
    });
  for (auto& t : nodes) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(query(db, "SELECT count(*) FROM schema_migrations"),
            std::to_string(postgres_schema_version()));
}

TEST(PostgresStoreOpen, RefusesNewerSchema) {
  auto db = fresh_db();
  ASSERT_FALSE(db.empty());
  ASSERT_TRUE(open_postgres(db).ok());
  ASSERT_NE(query(db, "INSERT INTO schema_migrations(version) VALUES (999) RETURNING version"),
            "<error>");
  auto s = open_postgres(db);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("newer"), std::string::npos) << s.error().message;
}

TEST(PostgresStoreOpen, BadConninfoAndUnreachableServer) {
  auto bad = open_postgres("host=127.0.0.1 password=s3cret-pw nonsense");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid);
  EXPECT_EQ(bad.error().message.find("s3cret"), std::string::npos) << bad.error().message;
  auto uri = open_postgres("postgresql://u:s3cret-pw@127.0.0.1:1/x?bogus=1");
  ASSERT_FALSE(uri.ok());
  EXPECT_EQ(uri.error().message.find("s3cret"), std::string::npos) << uri.error().message;
  auto down = open_postgres("postgresql://u:s3cret-pw@127.0.0.1:1/x?connect_timeout=2");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, Errc::unavailable);
  EXPECT_EQ(down.error().message.find("s3cret"), std::string::npos) << down.error().message;
}

TEST_F(PostgresStore, OneWriterAcrossNodes) {
  auto ta = a_->begin();
  ASSERT_TRUE(ta.ok());
  ASSERT_TRUE((*ta)->put_meta("k", "from-a").ok());
  std::atomic<bool> b_began{false};
  std::thread node_b([&] {
    auto tb = b_->begin();  // blocks on the advisory lock until a commits
    b_began = true;
    ASSERT_TRUE(tb.ok()) << tb.error().message;
    // Under the lock, b's statements see a's commit.
    auto cur = (*tb)->current("Patient", "x");
    ASSERT_TRUE(cur.ok() && cur->has_value());
    EXPECT_EQ((*cur)->version, 1u);
    ASSERT_TRUE((*tb)->commit().ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(b_began.load()) << "a second node got a writer transaction while one was open";
  VersionRow r;
  r.type = "Patient";
  r.id = "x";
  r.version = 1;
  r.body = "c";
  ASSERT_TRUE((*ta)->put_version(r).ok());
  ASSERT_TRUE((*ta)->commit().ok());
  ta.value().reset();
  node_b.join();
  EXPECT_TRUE(b_began.load());
  auto m = b_->meta("k");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ(**m, "from-a");
}

TEST_F(PostgresStore, ConcurrentWritersOnTwoNodesGiveGapFreeAudit) {
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int node = 0; node < 2; ++node)
    for (int t = 0; t < 2; ++t)
      threads.emplace_back([&, node] {
        Store& s = node == 0 ? *a_ : *b_;
        for (int i = 0; i < kPerThread; ++i)
          if (!append_next(s, node == 0 ? "a" : "b").ok()) ++failures;
      });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const uint64_t total = 4 * kPerThread;
  for (Store* s : {a_.get(), b_.get()}) {
    auto n = s->audit_size();
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, total);
  }
  uint64_t expect = 1, switches = 0;
  std::string last;
  ASSERT_TRUE(b_->audit_scan(1, UINT64_MAX, [&](const AuditRowView& v) {
    EXPECT_EQ(v.seq, expect++);
    if (!last.empty() && v.user != last) ++switches;
    last = v.user;
    return true;
  }).ok());
  EXPECT_EQ(expect, total + 1);
  EXPECT_GT(switches, 0u) << "both nodes appended";
  EXPECT_TRUE(a_->integrity_check().ok());
}

TEST_F(PostgresStore, ConflictingVersionFromSecondNode) {
  VersionRow r;
  r.type = "Patient";
  r.id = "p";
  r.version = 1;
  r.body = "a1";
  {
    auto ta = a_->begin();
    ASSERT_TRUE(ta.ok());
    ASSERT_TRUE((*ta)->put_version(r).ok());
    ASSERT_TRUE((*ta)->commit().ok());
  }
  auto tb = b_->begin();
  ASSERT_TRUE(tb.ok());
  r.body = "b1";
  auto st = (*tb)->put_version(r);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::conflict);
  // The conflict did not doom b's transaction (as with SQLite).
  r.version = 2;
  ASSERT_TRUE((*tb)->put_version(r).ok());
  ASSERT_TRUE((*tb)->commit().ok());
  auto cur = a_->current("Patient", "p");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->version, 2u);
  EXPECT_EQ((*cur)->body, "b1");
}

TEST_F(PostgresStore, HostileBytesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string id = "id" + all, type = std::string("T\0\xff", 3) + all;
  VersionRow r;
  r.type = type;
  r.id = id;
  r.version = 1;
  r.key_id = 3;
  r.compartment = all;
  r.body = all + all;
  {
    auto t = a_->begin();
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE((*t)->put_version(r).ok());
    ASSERT_TRUE((*t)->set_index(type, id, {{all, all}, {"p", std::string(16, '\0')}}).ok());
    ASSERT_TRUE((*t)->put_meta(all, all).ok());
    ASSERT_TRUE((*t)->put_account({all, all, all, 1}).ok());
    ASSERT_TRUE((*t)->put_token({all, "tid" + all, all, "api", 1, 2, 3, false}).ok());
    ASSERT_TRUE((*t)->append_audit({{1, 1, all, all, all, all, all}}).ok());
    auto k = (*t)->put_dek({0, all, 1, all});
    ASSERT_TRUE(k.ok());
    ASSERT_TRUE((*t)->commit().ok());
  }
  auto cur = b_->current(type, id);
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->body, r.body);
  EXPECT_EQ((*cur)->compartment, all);
  ScanFilter f;
  f.type = type;
  f.terms = {{all, {all}}};
  f.ids = {id};
  auto found = b_->scan(f);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, id);
  f.terms = {{"p", {std::string(16, '\0')}}};
  found = b_->scan(f);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 1u);
  f.terms = {{"p", {std::string(15, '\0')}}};  // a prefix is not a match
  found = b_->scan(f);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->empty());
  auto m = b_->meta(all);
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ(**m, all);
  auto acc = b_->account(all);
  ASSERT_TRUE(acc.ok() && acc->has_value());
  EXPECT_EQ((*acc)->data, all);
  auto tok = b_->token(all);
  ASSERT_TRUE(tok.ok() && tok->has_value());
  EXPECT_EQ((*tok)->token_id, "tid" + all);
  auto d = b_->dek_for(all);
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->wrapped, all);
  auto byp = b_->audit_by_patient(all, 5);
  ASSERT_TRUE(byp.ok());
  ASSERT_EQ(byp->size(), 1u);
  EXPECT_EQ((*byp)[0].entry, all);
  ASSERT_TRUE(b_->audit_scan(1, 1, [&](const AuditRowView& v) {
    EXPECT_EQ(v.user, all);
    EXPECT_EQ(v.chain, all);
    return true;
  }).ok());
  // Ids compare and sort byte-wise, as SQLite's BINARY collation does.
  auto put = [&](const std::string& i) {
    VersionRow v;
    v.type = "S";
    v.id = i;
    v.version = 1;
    auto t = a_->begin();
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE((*t)->put_version(v).ok());
    ASSERT_TRUE((*t)->commit().ok());
  };
  for (const char* i : {"b", "B", "a", "\xc3\xa9", "A"}) put(i);
  ScanFilter s;
  s.type = "S";
  auto sorted = a_->scan(s);
  ASSERT_TRUE(sorted.ok());
  std::vector<std::string> ids;
  for (const auto& v : *sorted) ids.push_back(v.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"A", "B", "a", "b", "\xc3\xa9"}));
}

TEST_F(PostgresStore, ErrorsCarryNoValuesAndDoomTheTransaction) {
  ASSERT_TRUE(cluster()->admin("DROP TABLE meta", db_.substr(db_.rfind('=') + 1)));
  auto t = a_->begin();
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->append_audit({audit_row(1, "u")}).ok());
  auto st = (*t)->put_meta("secret-key", "secret-value");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::io);
  EXPECT_NE(st.error().message.find("SQLSTATE 42P01"), std::string::npos) << st.error().message;
  EXPECT_EQ(st.error().message.find("secret"), std::string::npos) << st.error().message;
  // The server aborted the transaction: commit() says so, nothing is kept.
  EXPECT_FALSE((*t)->commit().ok());
  t.value().reset();
  auto n = a_->audit_size();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(append_next(*a_, "u").ok()) << "the writer is usable again";
}

TEST_F(PostgresStore, AuditScanStreamsOneSnapshot) {
  constexpr uint64_t kRows = 2500;  // more than one FETCH batch
  {
    auto t = a_->begin();
    ASSERT_TRUE(t.ok());
    std::vector<AuditRow> rows;
    for (uint64_t i = 1; i <= kRows; ++i) rows.push_back(audit_row(i, "a"));
    ASSERT_TRUE((*t)->append_audit(rows).ok());
    ASSERT_TRUE((*t)->commit().ok());
  }
  uint64_t expect = 1;
  ASSERT_TRUE(a_->audit_scan(1, UINT64_MAX, [&](const AuditRowView& v) {
    EXPECT_EQ(v.seq, expect);
    EXPECT_EQ(v.entry, "entry" + std::to_string(expect));
    if (expect == 1) {
      // Another node appends while the scan runs: not in the scan's snapshot.
      auto t = b_->begin();
      EXPECT_TRUE(t.ok());
      EXPECT_TRUE((*t)->append_audit({audit_row(kRows + 1, "b")}).ok());
      EXPECT_TRUE((*t)->commit().ok());
    }
    ++expect;
    return true;
  }).ok());
  EXPECT_EQ(expect, kRows + 1);
  // Stopping in the middle of a batch leaves the connection usable.
  uint64_t seen = 0;
  ASSERT_TRUE(a_->audit_scan(1000, 2000, [&](const AuditRowView&) { return ++seen < 1500; }).ok());
  EXPECT_EQ(seen, 1500u);
  auto n = a_->audit_size();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, kRows + 1);
}

TEST_F(PostgresStore, ReaderPoolIsBoundedAndNestedReadsDoNotDeadlock) {
  VersionRow r;
  r.type = "Patient";
  r.id = "p";
  r.version = 1;
  r.key_id = 1;
  r.compartment = "p";
  {
    auto t = a_->begin();
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE((*t)->put_version(r).ok());
    ASSERT_TRUE((*t)->put_dek({1, "p", 1, "w"}).ok());
    ASSERT_TRUE((*t)->commit().ok());
  }
  const std::string dbname = db_.substr(db_.rfind('=') + 1);
  auto connections = [&] {
    return std::stoi(query(db_, "SELECT count(*) FROM pg_stat_activity WHERE datname='" +
                                    dbname + "' AND application_name='medvault'"));
  };
  std::atomic<int> failures{0}, peak{0};
  auto hammer = [&](int rounds, auto read) {
    std::vector<std::thread> threads;
    for (int i = 0; i < 32; ++i)  // as the HTTP server's threads
      threads.emplace_back([&] {
        for (int j = 0; j < rounds; ++j)
          if (!read()) ++failures;
      });
    std::thread watch([&] {
      for (int i = 0; i < 20; ++i) {
        peak = std::max(peak.load(), connections());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    for (auto& t : threads) t.join();
    watch.join();
  };
  hammer(20, [&] {
    auto c = a_->current("Patient", "p");
    return c.ok() && c->has_value();
  });
  EXPECT_EQ(failures.load(), 0);
  // 16 readers and the writer of a_, the writer of b_.
  EXPECT_LE(peak.load(), 16 + 1 + 1);
  EXPECT_GT(peak.load(), 2);
  // A visitor that reads more, as `verify` and export do: never waits for
  // the pool while holding a connection.
  hammer(4, [&] {
    bool ok = true;
    auto st = a_->for_each_current([&](const VersionRow& v) {
      auto d = a_->dek(v.key_id);
      ok = ok && d.ok() && d->has_value();
      return true;
    });
    return ok && st.ok();
  });
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(PostgresStore, ReconnectsAfterServerRestart) {
  ASSERT_TRUE(append_next(*a_, "before").ok());
  ASSERT_TRUE(a_->meta("x").ok());  // a pooled reader connection exists
  auto* c = cluster();
  ASSERT_TRUE(c->stop());
  // Down: clear errors, no crash.
  auto down = a_->audit_size();
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, Errc::unavailable) << down.error().message;
  auto txn = a_->begin();
  ASSERT_FALSE(txn.ok());
  EXPECT_EQ(txn.error().code, Errc::unavailable) << txn.error().message;
  ASSERT_TRUE(c->start());
  // The first call may still fail with unavailable; later calls succeed.
  auto eventually = [](auto call) {
    for (int i = 0; i < 3; ++i) {
      auto r = call();
      if (r.ok()) return true;
      EXPECT_EQ(r.error().code, Errc::unavailable) << r.error().message;
    }
    return false;
  };
  EXPECT_TRUE(eventually([&] { return append_next(*a_, "after"); }));
  EXPECT_TRUE(eventually([&] { return b_->audit_size(); }));
  auto n = b_->audit_size();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_TRUE(eventually([&] { return a_->integrity_check(); }));
}

TEST_F(PostgresStore, IntegrityCheckFindsGapsAndStaleRows) {
  ASSERT_TRUE(append_next(*a_, "u").ok());
  ASSERT_TRUE(a_->integrity_check().ok());
  const std::string dbname = db_.substr(db_.rfind('=') + 1);
  ASSERT_TRUE(cluster()->admin("UPDATE audit SET seq=5", dbname));
  auto st = a_->integrity_check();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::integrity);
  ASSERT_TRUE(cluster()->admin("UPDATE audit SET seq=1", dbname));
  ASSERT_TRUE(cluster()->admin(
      "INSERT INTO resource VALUES ('P'::bytea,'x'::bytea,1,1,1,false,''::bytea)", dbname));
  st = a_->integrity_check();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::integrity);
  EXPECT_TRUE(a_->compact().ok());
}

}  // namespace
}  // namespace medvault::store
