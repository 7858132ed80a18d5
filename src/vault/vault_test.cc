#include "vault/vault.h"
#include "vault/vault_test_util.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>
#include <tuple>

#include <boost/json.hpp>

#include "audit/entry.h"
#include "fhir/resource.h"
#include "store/audit_files_test_util.h"
#include "vault/access_facts.h"

namespace medvault::vault {
namespace {

namespace fs = std::filesystem;

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mv-vault-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto v = testing::make_test_vault(dir_);
    ASSERT_TRUE(v.ok()) << v.error().message;
    vault_ = std::move(v).value();
    ctx_.subject = {"system", "system", {}};
  }
  void TearDown() override {
    vault_.reset();
    fs::remove_all(dir_);
  }

  Repository& repo() { return vault_->repository(); }

  fhir::Resource patient(const std::string& id, const std::string& family) {
    auto r = fhir::parse_resource(R"({"resourceType":"Patient","id":")" + id +
                                  R"(","name":[{"family":")" + family +
                                  R"(","given":["Ana"]}],"gender":"female","birthDate":"1980-02-03"})");
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  }

  // Runs fn on the raw database file (as an attacker with disk access would).
  void with_db(const std::function<void(sqlite3*)>& fn) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "v" / "vault.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    fn(db);
    sqlite3_close(db);
  }

  fs::path dir_;
  std::unique_ptr<Vault> vault_;
  RequestContext ctx_;
};

TEST_F(VaultTest, CreateReadUpdateDeleteHistory) {
  auto c = repo().update(ctx_, patient("p1", "Martin"), std::nullopt);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->version, 1u);
  auto r = repo().read(ctx_, "Patient", "p1");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->json.find("\"versionId\":\"1\""), std::string::npos);
  EXPECT_NE(r->json.find("Martin"), std::string::npos);

  auto u = repo().update(ctx_, patient("p1", "Durand"), 1);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->version, 2u);
  auto stale = repo().update(ctx_, patient("p1", "Petit"), 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, Errc::precondition_failed);

  auto v1 = repo().vread(ctx_, "Patient", "p1", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_NE(v1->json.find("Martin"), std::string::npos);

  auto d = repo().remove(ctx_, "Patient", "p1");
  ASSERT_TRUE(d.ok());
  auto gone = repo().read(ctx_, "Patient", "p1");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, Errc::gone);
  auto h = repo().history(ctx_, "Patient", "p1", std::nullopt, 10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_TRUE((*h)[0].deleted);
  EXPECT_EQ((*h)[2].version, 1u);

  auto missing = repo().read(ctx_, "Patient", "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  auto bad_id = repo().read(ctx_, "Patient", "../etc/passwd");
  ASSERT_FALSE(bad_id.ok());
  EXPECT_EQ(bad_id.error().code, Errc::invalid);
}

// The server's road (RequestContext::deferred_audit and unsynced_write): a
// write commits without waiting for the disk and says so, its audit entry
// committed with it (never held); a read holds its entry and writes nothing;
// an empty append to the log then reports the write durable.
TEST_F(VaultTest, DeferredWritesCommitUnsyncedAndReadsHoldTheirEntries) {
  std::vector<audit::Entry> held;
  bool unsynced = false;
  RequestContext server = ctx_;
  server.deferred_audit = &held;
  server.unsynced_write = &unsynced;
  auto before = vault_->audit_log()->size();
  auto c = repo().create(server, patient("x", "Lefevre"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(unsynced);
  EXPECT_TRUE(held.empty());
  EXPECT_EQ(vault_->audit_log()->size(), before + 1);
  std::promise<Status> durable;
  vault_->audit_log()->append_async({}, [&](Status st) { durable.set_value(std::move(st)); });
  const Status st = durable.get_future().get();
  EXPECT_TRUE(st.ok()) << st.error().message;

  unsynced = false;
  auto r = repo().read(server, "Patient", c->id);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(unsynced);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].action, "read");
  EXPECT_EQ(vault_->audit_log()->size(), before + 1);
}

TEST_F(VaultTest, CreateAssignsIdAndValidates) {
  auto c = repo().create(ctx_, patient("ignored", "Blanc"));
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->id, "ignored");
  EXPECT_EQ(c->id.size(), 36u);
  auto bad = fhir::parse_resource(R"({"resourceType":"Patient","birthDate":"not a date"})");
  ASSERT_TRUE(bad.ok());
  auto v = repo().create(ctx_, std::move(bad).value());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, Errc::unprocessable);
  EXPECT_EQ(v.error().path, "Patient.birthDate");
}

TEST_F(VaultTest, EveryFlippedByteIsAnIntegrityErrorNamingTheRecord) {
  ASSERT_TRUE(repo().update(ctx_, patient("p1", "Martin"), std::nullopt).ok());
  std::string body;
  with_db([&](sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT body FROM resource_version WHERE id='p1'", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    body.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
  });
  ASSERT_GT(body.size(), 100u);
  auto set_body = [&](const std::string& b) {
    with_db([&](sqlite3* db) {
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(db, "UPDATE resource_version SET body=?1 WHERE id='p1'", -1, &st, nullptr);
      sqlite3_bind_blob(st, 1, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
      ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
      sqlite3_finalize(st);
    });
  };
  for (size_t i = 0; i < body.size(); ++i) {
    std::string bad = body;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    set_body(bad);
    auto r = repo().read(ctx_, "Patient", "p1");
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_EQ(r.error().code, Errc::integrity);
    EXPECT_NE(r.error().message.find("Patient/p1 version 1"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("Martin"), std::string::npos);
  }
  set_body(body);
  EXPECT_TRUE(repo().read(ctx_, "Patient", "p1").ok());
  EXPECT_TRUE(vault_->verify().ok());
}

TEST_F(VaultTest, RotationRetiresTheOldKek) {
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(repo().update(ctx_, patient("p" + std::to_string(i), "Nom"), std::nullopt).ok());
  std::string old_wrapped;
  with_db([&](sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT wrapped FROM dek ORDER BY key_id LIMIT 1", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    old_wrapped.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                       static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
  });
  ASSERT_TRUE(vault_->rotate_kek(ctx_).ok());
  auto s = vault_->status();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kek_version, 2u);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(repo().read(ctx_, "Patient", "p" + std::to_string(i)).ok());

  // Put the old wrapping back (as from an old copy of the database): with
  // KEK 1 destroyed, a fresh process cannot unwrap it.
  with_db([&](sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "UPDATE dek SET wrapped=?1, kek_version=1 WHERE key_id=(SELECT MIN(key_id) FROM dek)",
                       -1, &st, nullptr);
    sqlite3_bind_blob(st, 1, old_wrapped.data(), static_cast<int>(old_wrapped.size()), SQLITE_STATIC);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
  });
  vault_.reset();
  Unsealer u;
  u.passphrase = crypto::SecretString("test passphrase for unit tests");
  auto v = Vault::open(dir_ / "v", u);
  ASSERT_TRUE(v.ok());
  auto st = (*v)->verify();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::integrity);
}

TEST_F(VaultTest, ConcurrentIfMatchUpdatesLoseNothing) {
  ASSERT_TRUE(repo().update(ctx_, patient("shared", "Zero"), std::nullopt).ok());
  std::atomic<int> applied{0}, refused{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto cur = repo().read(ctx_, "Patient", "shared");
        if (!cur.ok()) { ADD_FAILURE() << cur.error().message; continue; }
        auto r = patient("shared", "T" + std::to_string(t) + "x" + std::to_string(i));
        auto u = repo().update(ctx_, std::move(r), cur->version);
        if (u.ok()) ++applied;
        else if (u.error().code == Errc::precondition_failed) ++refused;
        else ADD_FAILURE() << u.error().message;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(applied + refused, 200);
  auto fin = repo().read(ctx_, "Patient", "shared");
  ASSERT_TRUE(fin.ok());
  EXPECT_EQ(fin->version, static_cast<uint64_t>(applied.load()) + 1);
  EXPECT_TRUE(vault_->verify().ok());
}

TEST_F(VaultTest, SearchByBlindIndex) {
  ASSERT_TRUE(repo().update(ctx_, patient("a", "Lefèvre"), std::nullopt).ok());
  ASSERT_TRUE(repo().update(ctx_, patient("b", "Lemaire"), std::nullopt).ok());
  ASSERT_TRUE(repo().update(ctx_, patient("c", "Martin"), std::nullopt).ok());
  SearchRequest q;
  q.type = "Patient";
  q.terms = {{"name", {fhir::normalise_text("LE")}}};
  auto r = repo().search(ctx_, q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, 2u);
  q.terms = {{"family", {fhir::normalise_text("lefevre")}}};
  r = repo().search(ctx_, q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->total, 1u);
  EXPECT_EQ(r->page[0].id, "a");
  q.terms = {};
  q.count = 0;
  r = repo().search(ctx_, q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, 3u);
  EXPECT_TRUE(r->page.empty());
}

// Searches that stop early (issue 8): 30 "Durand" patients; every third
// carries the restricted label R, which a physician without a grant may not
// see, and p01 has a Consent refusing everyone.
class SearchWalkTest : public VaultTest {
 protected:
  void SetUp() override {
    VaultTest::SetUp();
    for (int i = 0; i < 30; ++i) {
      char id[8];
      std::snprintf(id, sizeof id, "p%02d", i);
      auto r = patient(id, "Durand");
      if (i % 3 == 2)
        r.json["meta"] = boost::json::object{
            {"security", boost::json::array{boost::json::object{
                             {"system", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"}, {"code", "R"}}}}};
      ASSERT_TRUE(repo().update(ctx_, std::move(r), std::nullopt).ok());
      if (i % 3 != 2 && i != 1) visible.push_back(id);
    }
    auto consent = fhir::parse_resource(
        R"({"resourceType":"Consent","id":"c-p01","status":"active",)"
        R"("scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},)"
        R"("category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],)"
        R"("patient":{"reference":"Patient/p01"},"provision":{"type":"deny"}})");
    ASSERT_TRUE(consent.ok());
    ASSERT_TRUE(repo().update(ctx_, std::move(consent).value(), std::nullopt).ok());
    doc_.subject = {"doc", "physician", {}};
  }
  SearchRequest durand(size_t offset, size_t count, bool accurate = false) {
    SearchRequest q;
    q.type = "Patient";
    q.terms = {{"name", {fhir::normalise_text("dur")}}};
    q.offset = offset;
    q.count = count;
    q.accurate_total = accurate;
    return q;
  }
  static std::vector<std::string> ids(const SearchResult& r) {
    std::vector<std::string> out;
    for (const auto& s : r.page) out.push_back(s.id);
    return out;
  }
  std::vector<std::string> slice(size_t from, size_t n) {
    return {visible.begin() + static_cast<long>(from), visible.begin() + static_cast<long>(std::min(from + n, visible.size()))};
  }
  uint64_t audit_entries() {
    auto st = vault_->status();
    EXPECT_TRUE(st.ok());
    return st.ok() ? st->audit_entries : 0;
  }
  RequestContext doc_;
  std::vector<std::string> visible;  // what doc may see, in id order
};

TEST_F(SearchWalkTest, APageWithoutTotalStopsAfterOneMoreMatch) {
  ASSERT_EQ(visible.size(), 19u);
  const uint64_t before = audit_entries();
  auto r = repo().search(doc_, durand(0, 5));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->total);
  EXPECT_TRUE(r->more);
  EXPECT_EQ(ids(*r), slice(0, 5));
  EXPECT_EQ(audit_entries(), before + 5);  // one per patient on the page
  // Pages by offset cover every visible match once; the last one ran out of
  // candidates (hidden ones came after it) and so knows the exact total.
  std::vector<std::string> all;
  for (size_t off = 0; off < 30; off += 5) {
    r = repo().search(doc_, durand(off, 5));
    ASSERT_TRUE(r.ok());
    auto page = ids(*r);
    all.insert(all.end(), page.begin(), page.end());
    EXPECT_EQ(r->more, off + 5 < visible.size()) << off;
    if (off + 5 < visible.size()) EXPECT_FALSE(r->total) << off;
    else EXPECT_EQ(r->total, std::optional<size_t>(19)) << off;
  }
  EXPECT_EQ(all, visible);
  // Ends exactly on the last visible match: no more, exact total.
  r = repo().search(doc_, durand(18, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ids(*r), slice(18, 1));
  EXPECT_FALSE(r->more);
  EXPECT_EQ(r->total, std::optional<size_t>(19));
  r = repo().search(doc_, durand(17, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->more);
  EXPECT_FALSE(r->total);
}

TEST_F(SearchWalkTest, AccurateTotalAndCountZeroCountOnlyWhatMayBeSeen) {
  auto r = repo().search(doc_, durand(0, 5, true));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, std::optional<size_t>(19));
  EXPECT_TRUE(r->more);
  EXPECT_EQ(ids(*r), slice(0, 5));
  r = repo().search(doc_, durand(3, 0));  // _summary=count
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, std::optional<size_t>(19));
  EXPECT_TRUE(r->page.empty());
  // A residual filter is counted too.
  auto q = durand(0, 5, true);
  q.residual = [](const fhir::Resource& res) { return res.id != "p00"; };
  r = repo().search(doc_, q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, std::optional<size_t>(18));
  EXPECT_EQ(ids(*r), slice(1, 5));
  // The grant opens the labelled ones; the consent still refuses p01.
  RequestContext granted = doc_;
  granted.subject.grants = {"R"};
  r = repo().search(granted, durand(0, 100));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, std::optional<size_t>(29));
  // The system sees all 30.
  r = repo().search(ctx_, durand(0, 1, true));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, std::optional<size_t>(30));
}

TEST_F(SearchWalkTest, CandidatesAfterTheStopAreNotDecrypted) {
  // A damaged record after the page: the early stop never opens it, an
  // accurate total must, and fails naming it (proof that the walk stops).
  with_db([&](sqlite3* db) {
    ASSERT_EQ(sqlite3_exec(db, "UPDATE resource_version SET body=zeroblob(80) WHERE id='p28'", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
  });
  auto r = repo().search(doc_, durand(0, 5));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(ids(*r), slice(0, 5));
  r = repo().search(doc_, durand(0, 5, true));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::integrity);
  EXPECT_NE(r.error().message.find("Patient/p28"), std::string::npos) << r.error().message;
}

TEST_F(VaultTest, EveryAccessIsAudited) {
  auto before = vault_->status();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(repo().update(ctx_, patient("p1", "Martin"), std::nullopt).ok());
  ASSERT_TRUE(repo().read(ctx_, "Patient", "p1").ok());
  ASSERT_FALSE(repo().read(ctx_, "Patient", "missing").ok());
  RequestContext reception;
  reception.subject = {"rita", "reception", {}};
  auto cond = fhir::parse_resource(
      R"({"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"x"}})");
  ASSERT_TRUE(cond.ok());
  ASSERT_TRUE(repo().update(ctx_, std::move(cond).value(), std::nullopt).ok());
  auto denied = repo().read(reception, "Condition", "c1");
  ASSERT_FALSE(denied.ok());
  // Reception may not learn that a clinical record exists (docs/access-policy.md).
  EXPECT_EQ(denied.error().code, Errc::not_found);
  auto after = vault_->status();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->audit_entries, before->audit_entries + 5);
  EXPECT_TRUE(vault_->verify().ok());
}

// Refused writes that reached a record are audited (outcome 4), after the
// transaction is rolled back; deleting a deleted resource is an access too.
TEST_F(VaultTest, RefusedWritesAreAudited) {
  auto last_entries = [&](int n) {
    std::vector<audit::Entry> out;
    auto rows = store::testing::read_audit_rows(dir_ / "v" / "vault.db");
    for (size_t i = rows.size() > static_cast<size_t>(n) ? rows.size() - n : 0; i < rows.size(); ++i) {
      audit::Entry e;
      EXPECT_TRUE(audit::parse_canonical(rows[i].entry, e).ok());
      out.push_back(e);
    }
    return out;
  };
  auto size = [&] { return vault_->status()->audit_entries; };
  ASSERT_TRUE(repo().update(ctx_, patient("p1", "Martin"), std::nullopt).ok());

  uint64_t n = size();
  auto stale = repo().update(ctx_, patient("p1", "Stale"), 7);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, Errc::precondition_failed);
  ASSERT_EQ(size(), n + 1);
  auto e = last_entries(1).at(0);
  EXPECT_EQ(std::tie(e.action, e.type, e.id, e.patient, e.outcome),
            std::make_tuple("update", "Patient", "p1", "p1", "4"));

  auto missing = repo().remove(ctx_, "Patient", "nobody");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  e = last_entries(1).at(0);
  EXPECT_EQ(std::tie(e.action, e.id, e.patient, e.outcome), std::make_tuple("delete", "nobody", "", "4"));

  // A transaction refused on its second operation: nothing of it is stored,
  // and the refusal is the only entry.
  n = size();
  std::vector<WriteOp> ops(2);
  ops[0].kind = WriteOp::Kind::create;
  ops[0].resource = patient("p9", "New");
  ops[1].kind = WriteOp::Kind::update;
  ops[1].resource = patient("p1", "Late");
  ops[1].if_match = 9;
  auto tx = repo().transaction(ctx_, std::move(ops));
  ASSERT_FALSE(tx.ok());
  EXPECT_EQ(tx.error().code, Errc::precondition_failed);
  ASSERT_EQ(size(), n + 1);
  e = last_entries(1).at(0);
  EXPECT_EQ(std::tie(e.action, e.id, e.outcome), std::make_tuple("update", "p1", "4"));
  EXPECT_EQ(repo().read(ctx_, "Patient", "p9").error().code, Errc::not_found);

  n = size();
  ASSERT_TRUE(repo().remove(ctx_, "Patient", "p1").ok());
  auto again = repo().remove(ctx_, "Patient", "p1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version, 2u);
  ASSERT_EQ(size(), n + 2);
  for (const auto& d : last_entries(2))
    EXPECT_EQ(std::tie(d.action, d.id, d.patient, d.outcome), std::make_tuple("delete", "p1", "p1", "0"));
  EXPECT_TRUE(vault_->verify().ok());
}

TEST_F(VaultTest, AuditTamperingIsFound) {
  ASSERT_TRUE(repo().update(ctx_, patient("p1", "Martin"), std::nullopt).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(repo().read(ctx_, "Patient", "p1").ok());
  auto rows = store::testing::read_audit_rows(dir_ / "v" / "vault.db");
  ASSERT_GE(rows.size(), 6u);
  ASSERT_NE(rows[3].entry.find("\"read\""), std::string::npos);
  rows[3].entry.replace(rows[3].entry.find("\"read\""), 6, "\"vread\"");
  store::testing::write_audit_rows(dir_ / "v" / "vault.db", rows);
  auto st = vault_->verify();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("audit entry 4"), std::string::npos) << st.error().message;
}

TEST_F(VaultTest, TokensAuthenticateUntilRevokedOrExpired) {
  auto& acc = vault_->accounts();
  ASSERT_TRUE(acc.add_user(ctx_, "dr.house", "physician", {}).ok());
  EXPECT_EQ(acc.add_user(ctx_, "dr.house", "physician", {}).error().code, Errc::conflict);
  EXPECT_EQ(acc.add_user(ctx_, "x", "wizard", {}).error().code, Errc::invalid);
  auto t = acc.issue_token(ctx_, "dr.house", 60'000);
  ASSERT_TRUE(t.ok());
  auto s = acc.authenticate_bearer(t->token, "127.0.0.1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->role, "physician");
  EXPECT_FALSE(acc.authenticate_bearer("mvt_nope", "127.0.0.1").ok());
  ASSERT_TRUE(acc.revoke_token(ctx_, t->token_id).ok());
  auto r = acc.authenticate_bearer(t->token, "127.0.0.1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unauthenticated);
}

// A verified bearer token is cached by the process that checked it, but a
// change made by another process (the CLI revoking it, an administrator's
// node disabling the account or changing its role) is seen at the next
// request: the store's kAuthGeneration changed. Expiry needs no change.
TEST_F(VaultTest, CachedTokensFollowChangesMadeByAnotherProcess) {
  class ManualClock final : public Clock {
   public:
    int64_t now_ms() const override { return now.load(); }
    std::atomic<int64_t> now{1'800'000'000'000};
  } clock;
  vault_.reset();
  Unsealer u;
  u.passphrase = crypto::SecretString("test passphrase for unit tests");
  auto server = Vault::open(dir_ / "v", u, clock);
  auto cli = Vault::open(dir_ / "v", u, clock);
  ASSERT_TRUE(server.ok() && cli.ok());
  auto& admin = (*cli)->accounts();
  ASSERT_TRUE(admin.add_user(ctx_, "dr.house", "physician", {}).ok());
  ASSERT_TRUE(admin.add_user(ctx_, "dr.wilson", "physician", {}).ok());
  auto t1 = admin.issue_token(ctx_, "dr.house", 60'000);
  auto t2 = admin.issue_token(ctx_, "dr.house", 600'000);
  auto t3 = admin.issue_token(ctx_, "dr.wilson", 600'000);
  ASSERT_TRUE(t1.ok() && t2.ok() && t3.ok());
  auto& acc = (*server)->accounts();
  auto auth = [&](const IssuedToken& t) { return acc.authenticate_bearer(t.token, "127.0.0.1"); };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(auth(*t1).ok() && auth(*t2).ok() && auth(*t3).ok());

  ASSERT_TRUE(admin.revoke_token(ctx_, t1->token_id).ok());
  EXPECT_EQ(auth(*t1).error().code, Errc::unauthenticated) << "revoked elsewhere";
  EXPECT_TRUE(auth(*t2).ok());

  ASSERT_TRUE(admin.set_role(ctx_, "dr.wilson", "nurse").ok());
  auto s = auth(*t3);
  EXPECT_FALSE(s.ok() && s->role == "physician") << "a role change ends the cached subject";

  ASSERT_TRUE(admin.set_disabled(ctx_, "dr.house", true).ok());
  EXPECT_EQ(auth(*t2).error().code, Errc::unauthenticated) << "disabled elsewhere";
  ASSERT_TRUE(admin.set_disabled(ctx_, "dr.house", false).ok());
  auto t4 = admin.issue_token(ctx_, "dr.house", 60'000);
  ASSERT_TRUE(t4.ok());
  ASSERT_TRUE(auth(*t4).ok());
  clock.now += 60'001;
  EXPECT_EQ(auth(*t4).error().code, Errc::unauthenticated) << "expired while cached";
}

// The policy's facts (care relationships, consents) are cached per patient.
// Past kFactsTtlMs they are checked against the compartment: a relationship
// another process (or node) added is seen then, and facts whose sources did
// not change keep serving.
TEST_F(VaultTest, ExpiredFactsSeeAnotherProcesssRelationshipChange) {
  class ManualClock final : public Clock {
   public:
    int64_t now_ms() const override { return now.load(); }
    std::atomic<int64_t> now{1'800'000'000'000};
  } clock;
  vault_.reset();
  Unsealer u;
  u.passphrase = crypto::SecretString("test passphrase for unit tests");
  auto a = Vault::open(dir_ / "v", u, clock);
  auto b = Vault::open(dir_ / "v", u);
  ASSERT_TRUE(a.ok() && b.ok());
  auto obs = fhir::parse_resource(
      R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"pulse"},)"
      R"("subject":{"reference":"Patient/p1"}})");
  ASSERT_TRUE(obs.ok());
  ASSERT_TRUE((*a)->repository().update(ctx_, patient("p1", "Martin"), std::nullopt).ok());
  ASSERT_TRUE((*a)->repository().update(ctx_, std::move(obs).value(), std::nullopt).ok());

  RequestContext doc;
  doc.subject.user = "dr.x";
  doc.subject.role = "physician";
  doc.subject.practitioner = "Practitioner/gp1";
  auto read = [&] { return (*a)->repository().read(doc, "Observation", "o1"); };
  EXPECT_EQ(read().error().code, Errc::not_found) << "no care relationship yet";

  // Another process makes dr.x the patient's GP.
  auto gp = fhir::parse_resource(
      R"({"resourceType":"Patient","id":"p1","name":[{"family":"Martin"}],)"
      R"("generalPractitioner":[{"reference":"Practitioner/gp1"}]})");
  ASSERT_TRUE(gp.ok());
  ASSERT_TRUE((*b)->repository().update(ctx_, std::move(gp).value(), std::nullopt).ok());
  EXPECT_FALSE(read().ok()) << "within the cache's lifetime the old facts may serve";
  clock.now += kFactsTtlMs + 1;
  EXPECT_TRUE(read().ok()) << "past it, the changed compartment is seen";
  clock.now += kFactsTtlMs + 1;
  EXPECT_TRUE(read().ok()) << "unchanged sources: the facts keep serving";

  // And the other way: the relationship removed elsewhere ends the access.
  ASSERT_TRUE((*b)->repository().update(ctx_, patient("p1", "Martin"), std::nullopt).ok());
  clock.now += kFactsTtlMs + 1;
  EXPECT_EQ(read().error().code, Errc::not_found);
}

}  // namespace
}  // namespace medvault::vault

namespace medvault::vault {
namespace {

// The server and a command (user add, token issue, key rotate) may run at the
// same time on one vault: two Vault objects on one directory stand for them.
TEST_F(VaultTest, TwoProcessesShareTheAuditLogAndTheKeys) {
  Unsealer u;
  u.passphrase = crypto::SecretString("test passphrase for unit tests");
  auto other = Vault::open(dir_ / "v", u);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(repo().update(ctx_, patient("p1", "Martin"), std::nullopt).ok());
  ASSERT_TRUE((*other)->accounts().add_user(ctx_, "dr.x", "physician", {}).ok());
  ASSERT_TRUE(repo().read(ctx_, "Patient", "p1").ok());
  ASSERT_TRUE((*other)->rotate_kek(ctx_).ok());
  ASSERT_TRUE(repo().update(ctx_, patient("p2", "Durand"), std::nullopt).ok());
  ASSERT_TRUE((*other)->repository().read(ctx_, "Patient", "p2").ok());
  ASSERT_TRUE(repo().read(ctx_, "Patient", "p1").ok());
  other->reset();
  vault_.reset();
  auto fresh = Vault::open(dir_ / "v", u);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE((*fresh)->verify().ok()) << (*fresh)->verify().error().message;
  EXPECT_TRUE((*fresh)->repository().read(ctx_, "Patient", "p2").ok());
}

}  // namespace
}  // namespace medvault::vault
