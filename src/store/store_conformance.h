// The storage conformance suite: every engine must pass it unchanged.
// An engine's test file instantiates it with a factory that opens a fresh,
// empty store:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
//                            ::testing::Values(StoreFactory{"sqlite", &open_fresh_sqlite}));
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <set>
#include <string>
#include <thread>

#include "store/store.h"

namespace medvault::store {

struct StoreFactory {
  std::string name;
  std::function<std::unique_ptr<Store>()> open_fresh;
};

inline std::ostream& operator<<(std::ostream& os, const StoreFactory& f) { return os << f.name; }

class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().open_fresh();
    ASSERT_NE(store_, nullptr);
  }

  static VersionRow row(const std::string& type, const std::string& id, uint64_t v,
                        const std::string& compartment = "p1", int64_t t = 1000) {
    VersionRow r;
    r.type = type;
    r.id = id;
    r.version = v;
    r.key_id = 7;
    r.last_updated_ms = t;
    r.compartment = compartment;
    r.body = "cipher-" + id + "-" + std::to_string(v);
    return r;
  }

  void put(const VersionRow& r, std::vector<IndexToken> tokens = {}) {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok()) << txn.error().message;
    ASSERT_TRUE((*txn)->put_version(r).ok());
    ASSERT_TRUE((*txn)->set_index(r.type, r.id, tokens).ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }

  std::unique_ptr<Store> store_;
};

// The tests themselves. One test binary holding several engines' files
// (store_test) includes them once; its other files define
// MEDVAULT_STORE_CONFORMANCE_FIXTURE_ONLY to get only the fixture they
// instantiate (the same tests in two files would be defined twice).
#ifndef MEDVAULT_STORE_CONFORMANCE_FIXTURE_ONLY

TEST_P(StoreConformance, VersionsAndHistory) {
  put(row("Patient", "a", 1, "a", 1000));
  put(row("Patient", "a", 2, "a", 2000));
  auto cur = store_->current("Patient", "a");
  ASSERT_TRUE(cur.ok());
  ASSERT_TRUE(cur->has_value());
  EXPECT_EQ((*cur)->version, 2u);
  EXPECT_EQ((*cur)->body, "cipher-a-2");
  EXPECT_EQ((*cur)->last_updated_ms, 2000);
  auto v1 = store_->version("Patient", "a", 1);
  ASSERT_TRUE(v1.ok() && v1->has_value());
  EXPECT_EQ((*v1)->body, "cipher-a-1");
  auto missing = store_->version("Patient", "a", 3);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto h = store_->history("Patient", "a", std::nullopt, 10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].version, 2u);
  EXPECT_EQ((*h)[1].version, 1u);
  auto since = store_->history("Patient", "a", 1500, 10);
  ASSERT_TRUE(since.ok());
  EXPECT_EQ(since->size(), 1u);
  put(row("Encounter", "e", 1, "a", 3000));
  auto sys = store_->history("", "", std::nullopt, 10);
  ASSERT_TRUE(sys.ok());
  ASSERT_EQ(sys->size(), 3u);
  EXPECT_EQ((*sys)[0].type, "Encounter");
  auto type = store_->history("Patient", "", std::nullopt, 1);
  ASSERT_TRUE(type.ok());
  ASSERT_EQ(type->size(), 1u);
  EXPECT_EQ((*type)[0].version, 2u);
}

TEST_P(StoreConformance, VersionMustBeNext) {
  put(row("Patient", "a", 1));
  auto txn = store_->begin();
  ASSERT_TRUE(txn.ok());
  auto st = (*txn)->put_version(row("Patient", "a", 3));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::conflict);
  auto st1 = (*txn)->put_version(row("Patient", "a", 1));
  ASSERT_FALSE(st1.ok());
  EXPECT_EQ(st1.error().code, Errc::conflict);
}

TEST_P(StoreConformance, UncommittedTransactionRollsBack) {
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_version(row("Patient", "a", 1)).ok());
    ASSERT_TRUE((*txn)->put_meta("k", "v").ok());
  }
  auto cur = store_->current("Patient", "a");
  ASSERT_TRUE(cur.ok());
  EXPECT_FALSE(cur->has_value());
  auto m = store_->meta("k");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());
  // The writer is free again.
  put(row("Patient", "a", 1));
}

TEST_P(StoreConformance, DeleteMetaConsumesOnce) {
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_meta("ceremony/x", "c").ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  for (bool expected : {true, false}) {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    auto gone = (*txn)->delete_meta("ceremony/x");
    ASSERT_TRUE(gone.ok());
    EXPECT_EQ(*gone, expected);
    ASSERT_TRUE((*txn)->commit().ok());
  }
  auto m = store_->meta("ceremony/x");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());
}

// The per-patient facts summary: binary-safe, replaced in place, one per
// patient, and rolled back with its transaction.
TEST_P(StoreConformance, FactsSummaryReplacesPerPatient) {
  const std::string blob("\x00\xff sealed\x00", 10);
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_facts_summary("p-1", blob).ok());
    ASSERT_TRUE((*txn)->put_facts_summary("p-2", "two").ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  auto one = store_->facts_summary("p-1");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ(**one, blob);
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_facts_summary("p-1", "newer").ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  {
    auto txn = store_->begin();  // rolled back: not committed
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_facts_summary("p-2", "lost").ok());
  }
  one = store_->facts_summary("p-1");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ(**one, "newer");
  auto two = store_->facts_summary("p-2");
  ASSERT_TRUE(two.ok() && two->has_value());
  EXPECT_EQ(**two, "two");
  auto none = store_->facts_summary("p-3");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(StoreConformance, TransactionSeesItsOwnWrites) {
  auto txn = store_->begin();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->put_version(row("Patient", "a", 1)).ok());
  auto cur = (*txn)->current("Patient", "a");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->version, 1u);
  EXPECT_TRUE((*txn)->put_version(row("Patient", "a", 2)).ok());
  ASSERT_TRUE((*txn)->commit().ok());
}

// commit_unsynced(): the change is visible at once; sync() then returns ok.
TEST_P(StoreConformance, CommitUnsyncedIsVisibleAndSyncs) {
  auto txn = store_->begin();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->put_version(row("Patient", "u", 1)).ok());
  ASSERT_TRUE((*txn)->commit_unsynced().ok());
  txn->reset();
  auto cur = store_->current("Patient", "u");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->version, 1u);
  EXPECT_TRUE(store_->sync().ok());
  auto next = store_->begin();  // the writer lock was released
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE((*next)->put_version(row("Patient", "u", 2)).ok());
  EXPECT_TRUE((*next)->commit().ok());
}

TEST_P(StoreConformance, ScanWithTokens) {
  auto tok = [](const std::string& p, const std::string& t) { return IndexToken{p, t}; };
  put(row("Patient", "a", 1, "a", 100), {tok("name", "T1"), tok("gender", "F")});
  put(row("Patient", "b", 1, "b", 300), {tok("name", "T1"), tok("gender", "M")});
  put(row("Patient", "c", 1, "c", 200), {tok("name", "T2"), tok("gender", "F")});
  put(row("Encounter", "x", 1, "a", 50), {tok("name", "T1")});

  ScanFilter f;
  f.type = "Patient";
  f.terms = {{"name", {"T1"}}};
  auto r = store_->scan(f);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].id, "a");
  EXPECT_EQ((*r)[1].id, "b");

  f.terms = {{"name", {"T1", "T2"}}, {"gender", {"F"}}};
  r = store_->scan(f);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].id, "a");
  EXPECT_EQ((*r)[1].id, "c");

  f.newest_first = true;
  r = store_->scan(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].id, "c");

  ScanFilter g;
  g.type = "Patient";
  g.ids = {"b", "c", "zz"};
  g.updated_from_ms = 250;
  r = store_->scan(g);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, "b");

  ScanFilter all;
  all.type = "Patient";
  all.updated_to_ms = 200;
  r = store_->scan(all);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, "a");
}

// The visitor form: rows one at a time in id order (a one-token term drives
// the SQLite query), the visitor may read the store, and returning false
// stops the scan. A deleted resource's tokens are gone with it.
TEST_P(StoreConformance, ScanVisitorStreamsInIdOrderAndStops) {
  for (const char* id : {"e", "b", "d", "a", "c"})
    put(row("Patient", id, 1, id, 100), {{"name", "SMI"}, {"gender", "F"}});
  put(row("Patient", "f", 1, "f", 300), {{"name", "SMI"}, {"gender", "M"}});
  auto gone = row("Patient", "c", 2);
  gone.deleted = true;
  put(gone, {});

  ScanFilter f;
  f.type = "Patient";
  f.terms = {{"name", {"SMI"}}};
  std::vector<std::string> seen;
  auto st = store_->scan(f, [&](const VersionRow& r) {
    auto cur = store_->current(r.type, r.id);  // reading meanwhile
    EXPECT_TRUE(cur.ok() && cur->has_value());
    seen.push_back(r.id);
    return seen.size() < 3;
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "d"}));

  // The driving term with another term, ids and a time bound.
  f.terms = {{"name", {"SMI"}}, {"gender", {"F", "X"}}};
  f.ids = {"a", "d", "e", "f", "zz"};
  f.updated_to_ms = 200;
  auto r = store_->scan(f);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].id, "a");
  EXPECT_EQ((*r)[1].id, "d");
  EXPECT_EQ((*r)[2].id, "e");
}

TEST_P(StoreConformance, ReindexReplacesTokensAndDeletedAreHidden) {
  put(row("Patient", "a", 1), {{"name", "OLD"}});
  put(row("Patient", "a", 2), {{"name", "NEW"}});
  ScanFilter f;
  f.type = "Patient";
  f.terms = {{"name", {"OLD"}}};
  auto r = store_->scan(f);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  auto del = row("Patient", "a", 3);
  del.deleted = true;
  put(del, {});
  ScanFilter any;
  any.type = "Patient";
  r = store_->scan(any);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  auto cur = store_->current("Patient", "a");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_TRUE((*cur)->deleted);
  auto n = store_->count_current("Patient");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST_P(StoreConformance, CompartmentAndExport) {
  put(row("Patient", "p", 1, "p"));
  put(row("Condition", "c1", 1, "p"));
  put(row("Condition", "c2", 1, "q"));
  put(row("Organization", "o", 1, ""));
  put(row("Consent", "k1", 1, "p"));
  put(row("Consent", "k2", 1, "q"));
  put(row("Encounter", "e1", 1, "p"));
  put(row("Encounter", "e2", 1, "p"));
  auto c = store_->compartment("p", {});
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 5u);
  // Only the types asked for, in (type, id) order; other compartments never.
  auto names = [](const std::vector<VersionRow>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.type + "/" + r.id);
    return out;
  };
  const std::array<std::string_view, 3> some = {"Patient", "Encounter", "Consent"};
  auto f = store_->compartment("p", some);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(names(*f), (std::vector<std::string>{"Consent/k1", "Encounter/e1", "Encounter/e2", "Patient/p"}));
  auto one = store_->compartment("q", std::span(some).last<1>());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(names(*one), std::vector<std::string>{"Consent/k2"});
  const std::array<std::string_view, 1> none = {"Observation"};
  auto empty = store_->compartment("p", none);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  std::vector<std::string> seen;
  ASSERT_TRUE(store_->for_each_current([&](const VersionRow& r) {
    seen.push_back(r.type + "/" + r.id + ":" + r.body);
    return true;
  }).ok());
  ASSERT_EQ(seen.size(), 8u);
  EXPECT_EQ(seen[0], "Condition/c1:cipher-c1-1");
  EXPECT_EQ(seen[7], "Patient/p:cipher-p-1");
}

TEST_P(StoreConformance, Keys) {
  uint64_t first_id = 0, second_id = 0;
  {
  auto txn = store_->begin();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->put_kek({1, "wrapped1", 5}).ok());
  auto id = (*txn)->put_dek({0, "p1", 1, "dek1"});
  ASSERT_TRUE(id.ok());
  auto id2 = (*txn)->put_dek({0, "p2", 1, "dek2"});
  ASSERT_TRUE(id2.ok());
  EXPECT_NE(*id, *id2);
  EXPECT_FALSE((*txn)->put_dek({0, "p1", 1, "again"}).ok()) << "one data key per compartment";
  ASSERT_TRUE((*txn)->commit().ok());
  first_id = *id;
  second_id = *id2;
  }
  const uint64_t* id = &first_id;
  const uint64_t* id2 = &second_id;

  auto d = store_->dek_for("p2");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->key_id, *id2);
  EXPECT_EQ((*d)->wrapped, "dek2");

  auto t2 = store_->begin();
  ASSERT_TRUE(t2.ok());
  ASSERT_TRUE((*t2)->put_kek({2, "wrapped2", 6}).ok());
  ASSERT_TRUE((*t2)->rewrap_dek(*id, 2, "dek1b").ok());
  ASSERT_TRUE((*t2)->delete_kek(1).ok());
  ASSERT_TRUE((*t2)->commit().ok());
  auto keks = store_->keks();
  ASSERT_TRUE(keks.ok());
  ASSERT_EQ(keks->size(), 1u);
  EXPECT_EQ((*keks)[0].version, 2u);
  auto d1 = store_->dek(*id);
  ASSERT_TRUE(d1.ok() && d1->has_value());
  EXPECT_EQ((*d1)->kek_version, 2u);
  EXPECT_EQ((*d1)->wrapped, "dek1b");
  auto all = store_->deks();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
}

TEST_P(StoreConformance, AuditAppendAndQueries) {
  std::vector<AuditRow> rows;
  {
  auto txn = store_->begin();
  ASSERT_TRUE(txn.ok());
  for (uint64_t i = 1; i <= 5; ++i)
    rows.push_back({i, static_cast<int64_t>(i * 10), i % 2 ? "p1" : "", "alice", "e" + std::to_string(i),
                    std::string(32, 'h'), std::string(32, 'c')});
  ASSERT_TRUE((*txn)->append_audit(rows).ok());
  ASSERT_TRUE((*txn)->commit().ok());
  }
  auto n = store_->audit_size();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
  auto r = store_->audit_range(2, 2);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].seq, 2u);
  EXPECT_EQ((*r)[1].entry, "e3");
  auto byp = store_->audit_by_patient("p1", 10);
  ASSERT_TRUE(byp.ok());
  ASSERT_EQ(byp->size(), 3u);
  EXPECT_EQ((*byp)[0].seq, 5u);
  // A sequence number is never reused.
  auto t2 = store_->begin();
  ASSERT_TRUE(t2.ok());
  EXPECT_FALSE((*t2)->append_audit({rows[0]}).ok());
}

// Long enough for an engine that indexes the log in bulk (SQLite: every
// 4,096 entries) to answer from its index and from the unindexed tail.
TEST_P(StoreConformance, AuditByPatientAcrossManyAppends) {
  constexpr uint64_t kRows = 10000, kBatch = 250;
  for (uint64_t first = 1; first <= kRows; first += kBatch) {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    std::vector<AuditRow> rows;
    for (uint64_t i = first; i < first + kBatch; ++i)
      rows.push_back({i, static_cast<int64_t>(i), i % 5 == 0 ? "" : "p" + std::to_string(i % 7),
                      "u" + std::to_string(i % 3), "e" + std::to_string(i), std::string(32, 'h'),
                      std::string(32, 'c')});
    ASSERT_TRUE((*txn)->append_audit(rows).ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  std::vector<uint64_t> want;
  for (uint64_t i = kRows; i >= 1; --i)
    if (i % 5 != 0 && i % 7 == 3) want.push_back(i);
  auto all = store_->audit_by_patient("p3", kRows);
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::vector<uint64_t> got;
  for (const auto& r : *all) got.push_back(r.seq);
  EXPECT_EQ(got, want);
  ASSERT_FALSE(all->empty());
  EXPECT_EQ(all->front().entry, "e" + std::to_string(want.front()));
  auto page = store_->audit_by_patient("p3", 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 10u);
  EXPECT_EQ(page->back().seq, want[9]);
  auto none = store_->audit_by_patient("p' OR 1=1 --", 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  auto by_user = store_->audit_by_user("u2", kRows);
  ASSERT_TRUE(by_user.ok()) << by_user.error().message;
  std::vector<uint64_t> want_user, got_user;
  for (uint64_t i = kRows; i >= 1; --i)
    if (i % 3 == 2) want_user.push_back(i);
  for (const auto& r : *by_user) got_user.push_back(r.seq);
  EXPECT_EQ(got_user, want_user);

  // time == seq here: a window across the indexed stretch and the tail.
  auto window = store_->audit_in_window(4000, 9500, kRows);
  ASSERT_TRUE(window.ok()) << window.error().message;
  ASSERT_EQ(window->size(), 5500u);
  EXPECT_EQ(window->front().seq, 9499u);
  EXPECT_EQ(window->back().seq, 4000u);
  auto limited = store_->audit_in_window(0, INT64_MAX, 3);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 3u);
  EXPECT_EQ(limited->front().seq, kRows);
}

// Everything a vault keeps moves with copy_all (`medvault migrate`), into an
// empty store only, and reads back the same from the copy.
TEST_P(StoreConformance, CopyAllMovesEveryRowIntoAnEmptyStore) {
  put(row("Patient", "a", 1, "a"), {{"name", std::string(16, 'n')}, {"gender", std::string(16, 'g')}});
  put(row("Patient", "a", 2, "a"), {{"name", std::string(16, 'm')}});
  put(row("Observation", "o", 1, "a"), {{"code", std::string(16, 'c')}});
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    VersionRow del = row("Observation", "o", 2, "a");
    del.deleted = true;
    del.body.clear();
    ASSERT_TRUE((*txn)->put_version(del).ok());
    ASSERT_TRUE((*txn)->put_meta("vault_id", "v-1").ok());
    ASSERT_TRUE((*txn)->put_kek({1, "wrapped-kek", 5}).ok());
    ASSERT_TRUE((*txn)->put_dek({0, "a", 1, "wrapped-dek"}).ok());
    std::vector<AuditRow> rows;
    for (uint64_t i = 1; i <= 3; ++i)
      rows.push_back({i, static_cast<int64_t>(i), "a", "u", "e" + std::to_string(i), std::string(32, 'h'),
                      std::string(32, 'c')});
    ASSERT_TRUE((*txn)->append_audit(rows).ok());
    ASSERT_TRUE((*txn)->put_audit_checkpoint({2, 7, "note", std::string(32, 'f')}).ok());
    ASSERT_TRUE((*txn)->put_account({"alice", "physician", "{}", 9}).ok());
    ASSERT_TRUE((*txn)->put_token({std::string(32, 't'), "tid", "alice", "api", 1, 2, 3, false}).ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  auto dst = GetParam().open_fresh();
  ASSERT_NE(dst, nullptr);
  auto st = copy_all(*store_, *dst);
  ASSERT_TRUE(st.ok()) << st.error().message;

  auto hist = dst->history("", "", std::nullopt, 100);
  ASSERT_TRUE(hist.ok());
  EXPECT_EQ(hist->size(), 4u);
  auto v1 = dst->version("Patient", "a", 1);
  ASSERT_TRUE(v1.ok() && v1->has_value());
  EXPECT_EQ((*v1)->body, "cipher-a-1");
  auto cur = dst->current("Observation", "o");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_TRUE((*cur)->deleted);
  ScanFilter f;
  f.type = "Patient";
  f.terms = {{"name", {std::string(16, 'm')}}};
  auto found = dst->scan(f);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  f.terms = {{"gender", {std::string(16, 'g')}}};
  found = dst->scan(f);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->empty()) << "index tokens replaced by version 2 must not come back";
  auto meta = dst->meta("vault_id");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_EQ(**meta, "v-1");
  auto keks = dst->keks();
  ASSERT_TRUE(keks.ok());
  ASSERT_EQ(keks->size(), 1u);
  EXPECT_EQ((*keks)[0].wrapped, "wrapped-kek");
  auto deks = dst->deks();
  ASSERT_TRUE(deks.ok());
  ASSERT_EQ(deks->size(), 1u);
  auto src_deks = store_->deks();
  ASSERT_TRUE(src_deks.ok());
  EXPECT_EQ((*deks)[0].key_id, (*src_deks)[0].key_id);
  auto audit = dst->audit_range(1, 10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 3u);
  EXPECT_EQ((*audit)[2].entry, "e3");
  auto cps = dst->audit_checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 1u);
  EXPECT_EQ((*cps)[0].frontier, std::string(32, 'f'));
  auto acct = dst->account("alice");
  ASSERT_TRUE(acct.ok() && acct->has_value());
  auto tok = dst->token(std::string(32, 't'));
  ASSERT_TRUE(tok.ok() && tok->has_value());
  EXPECT_EQ((*tok)->token_id, "tid");

  // Never into a store that holds anything.
  auto again = copy_all(*store_, *dst);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
}

TEST_P(StoreConformance, AuditScanAndCheckpoints) {
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    std::vector<AuditRow> rows;
    for (uint64_t i = 1; i <= 6; ++i)
      rows.push_back({i, static_cast<int64_t>(i), "p", "u" + std::to_string(i), "entry" + std::to_string(i),
                      std::string(32, static_cast<char>(i)), std::string(32, 'c')});
    ASSERT_TRUE((*txn)->append_audit(rows).ok());
    ASSERT_TRUE((*txn)->put_audit_checkpoint({4, 40, "note4", std::string(32, 'f')}).ok());
    ASSERT_TRUE((*txn)->put_audit_checkpoint({2, 20, "note2", std::string(32, 'g')}).ok());
    // A second checkpoint of a stored size does not replace the first.
    ASSERT_TRUE((*txn)->put_audit_checkpoint({4, 41, "other", std::string(32, 'h')}).ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  std::vector<uint64_t> seen;
  auto st = store_->audit_scan(2, 3, [&](const AuditRowView& v) {
    seen.push_back(v.seq);
    EXPECT_EQ(v.entry, "entry" + std::to_string(v.seq));
    EXPECT_EQ(v.user, "u" + std::to_string(v.seq));
    EXPECT_EQ(v.leaf_hash, std::string(32, static_cast<char>(v.seq)));
    EXPECT_EQ(v.time_ms, static_cast<int64_t>(v.seq));
    return true;
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{2, 3, 4}));
  seen.clear();
  ASSERT_TRUE(store_->audit_scan(1, UINT64_MAX, [&](const AuditRowView& v) {
    seen.push_back(v.seq);
    return v.seq < 3;  // stops early
  }).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
  auto cps = store_->audit_checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 2u);
  EXPECT_EQ((*cps)[0].size, 2u);
  EXPECT_EQ((*cps)[1].note, "note4");
  EXPECT_EQ((*cps)[1].time_ms, 40);
  EXPECT_EQ((*cps)[1].frontier, std::string(32, 'f'));
  auto last = store_->last_audit_checkpoint();
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->size, 4u);
}

TEST_P(StoreConformance, AccountsAndTokens) {
  {
  auto txn = store_->begin();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->put_account({"alice", "physician", "{}", 1}).ok());
  ASSERT_TRUE((*txn)->put_token({std::string(32, 'a'), "id1", "alice", "api", 1, 100, 0, false}).ok());
  ASSERT_TRUE((*txn)->put_token({std::string(32, 'b'), "id2", "alice", "api", 1, 100, 0, false}).ok());
  ASSERT_TRUE((*txn)->commit().ok());
  }
  auto a = store_->account("alice");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->role, "physician");
  auto t = store_->token(std::string(32, 'a'));
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_FALSE((*t)->revoked);
  auto t2 = store_->begin();
  ASSERT_TRUE(t2.ok());
  auto n = (*t2)->revoke_tokens("", "id1");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  auto all = (*t2)->revoke_tokens("alice", "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 1u);
  ASSERT_TRUE((*t2)->commit().ok());
  t = store_->token(std::string(32, 'b'));
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_TRUE((*t)->revoked);
}

// Every change of account or token rows gives kAuthGeneration a new value
// (caches of verified credentials depend on it); other changes do not.
TEST_P(StoreConformance, AuthGenerationChangesWithAccountsAndTokens) {
  auto gen = [&] {
    auto g = store_->meta(kAuthGeneration);
    EXPECT_TRUE(g.ok());
    return g.ok() ? g->value_or("") : std::string("?");
  };
  auto in_txn = [&](auto&& fn) {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    fn(**txn);
    ASSERT_TRUE((*txn)->commit().ok());
  };
  std::set<std::string> seen{gen()};
  in_txn([](Transaction& t) { ASSERT_TRUE(t.put_account({"alice", "nurse", "{}", 1}).ok()); });
  EXPECT_TRUE(seen.insert(gen()).second) << "put_account";
  in_txn([](Transaction& t) { ASSERT_TRUE(t.put_token({std::string(32, 'a'), "id1", "alice", "api", 1, 100, 0, false}).ok()); });
  EXPECT_TRUE(seen.insert(gen()).second) << "put_token";
  in_txn([](Transaction& t) { ASSERT_TRUE(t.revoke_tokens("alice", "").ok()); });
  EXPECT_TRUE(seen.insert(gen()).second) << "revoke_tokens";
  in_txn([](Transaction& t) { ASSERT_TRUE(t.purge_sessions(1000, 500).ok()); });
  EXPECT_TRUE(seen.insert(gen()).second) << "purge_sessions";
  const std::string last = gen();
  in_txn([](Transaction& t) { ASSERT_TRUE(t.put_meta("other", "x").ok()); });
  EXPECT_EQ(gen(), last) << "other changes keep it";
}

TEST_P(StoreConformance, PurgeSessionsDeletesOnlyDeadSessions) {
  auto h = [](char c) { return std::string(32, c); };
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    // now = 1000, idle cut-off = 500.
    ASSERT_TRUE((*txn)->put_token({h('a'), "live", "alice", "session", 1, 2000, 900, false}).ok());
    ASSERT_TRUE((*txn)->put_token({h('b'), "ended", "alice", "session", 1, 2000, 900, true}).ok());
    ASSERT_TRUE((*txn)->put_token({h('c'), "expired", "alice", "session-cert", 1, 1000, 900, false}).ok());
    ASSERT_TRUE((*txn)->put_token({h('d'), "idle", "alice", "session", 1, 2000, 500, false}).ok());
    ASSERT_TRUE((*txn)->put_token({h('e'), "livecert", "alice", "session-cert", 1, 2000, 501, false}).ok());
    ASSERT_TRUE((*txn)->put_token({h('f'), "api", "alice", "api", 1, 10, 0, true}).ok());
    ASSERT_TRUE((*txn)->put_token({h('g'), "sessionish", "alice", "sessions", 1, 10, 0, true}).ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  auto txn = store_->begin();
  ASSERT_TRUE(txn.ok());
  auto n = (*txn)->purge_sessions(1000, 500);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 3u);
  ASSERT_TRUE((*txn)->commit().ok());
  for (char gone : {'b', 'c', 'd'}) {
    auto t = store_->token(h(gone));
    ASSERT_TRUE(t.ok());
    EXPECT_FALSE(t->has_value()) << gone;
  }
  for (char kept : {'a', 'e', 'f', 'g'}) {
    auto t = store_->token(h(kept));
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t->has_value()) << kept;
  }
}

TEST_P(StoreConformance, ConcurrentReadersAndOneWriter) {
  put(row("Patient", "a", 1));
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, failures{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i)
    readers.emplace_back([&] {
      while (!stop) {
        auto r = store_->current("Patient", "a");
        if (!r.ok() || !r->has_value()) ++failures;
        ++reads;
      }
    });
  for (uint64_t v = 2; v <= 50; ++v) put(row("Patient", "a", v));
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  auto cur = store_->current("Patient", "a");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->version, 50u);
}

TEST_P(StoreConformance, IntegrityCheckOnHealthyStore) {
  put(row("Patient", "a", 1));
  EXPECT_TRUE(store_->integrity_check().ok());
  EXPECT_TRUE(store_->compact().ok());
}

#endif  // MEDVAULT_STORE_CONFORMANCE_FIXTURE_ONLY

}  // namespace medvault::store
