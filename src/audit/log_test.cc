#include "audit/log.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>

#include "crypto/secret.h"
#include "store/audit_files_test_util.h"

namespace medvault::audit {
namespace {

namespace fs = std::filesystem;

Entry make_entry(int i) {
  Entry e;
  e.time_ms = 1700000000000 + i;
  e.user = "alice";
  e.role = "physician";
  e.action = i % 3 ? "read" : "search";
  e.type = "Observation";
  e.id = "obs-" + std::to_string(i);
  e.patient = i % 2 ? "pat-" + std::to_string(i % 5) : "";
  e.purpose = "TREAT";
  e.address = "10.0.0.7";
  e.outcome = "0";
  if (i % 4 == 0) e.detail = "free text " + std::to_string(i);
  return e;
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mv-audit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = store::open_sqlite(dir_ / "vault.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    reopen();
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // The store and the log opened again, as after a restart.
  void reopen_store(uint64_t every = 10) {
    log_.reset();
    store_.reset();
    auto s = store::open_sqlite(dir_ / "vault.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    reopen(every);
  }
  // Rewrites the stored entries (store/audit_files_test_util.h), with the
  // records at the 1-based positions `torn` failing their checksum, then
  // reopens.
  void tamper(const std::function<void(std::vector<store::AuditRow>&)>& edit, std::vector<size_t> torn = {}) {
    log_.reset();
    store_.reset();
    auto rows = store::testing::read_audit_rows(dir_ / "vault.db");
    edit(rows);
    store::testing::write_audit_rows(dir_ / "vault.db", rows, torn);
    reopen_store();
  }
  void reopen(uint64_t every = 10) {
    log_.reset();
    auto l = Log::open(*store_, keys(), {"medvault.local/test", every});
    ASSERT_TRUE(l.ok()) << l.error().message;
    log_ = std::move(l).value();
  }
  static LogKeys keys() {
    std::vector<uint8_t> a(32, 1), b(32, 2), c(32, 3);
    return {crypto::SecretKey::from_bytes(a), crypto::SecretKey::from_bytes(b),
            crypto::SecretKey::from_bytes(c)};
  }

  void append(int from, int to) {
    for (int i = from; i < to; ++i) ASSERT_TRUE(log_->append(make_entry(i)).ok());
  }
  void sql(const std::string& q) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "vault.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, q.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  // The root recomputed from the stored entry bytes.
  merkle::Hash expected_root(uint64_t n) {
    auto rows = store_->audit_range(1, n);
    EXPECT_TRUE(rows.ok());
    std::vector<merkle::Hash> leaves;
    for (const auto& r : *rows) leaves.push_back(merkle::leaf_hash(r.entry));
    return merkle::root(leaves);
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Log> log_;
};

TEST(EntryTest, CanonicalBytesRoundTrip) {
  std::mt19937 rng(5);
  for (int i = 0; i < 500; ++i) {
    Entry e = make_entry(i);
    std::string junk;
    for (int k = 0; k < 12; ++k) junk += static_cast<char>(rng() % 256);
    e.explanation = junk;
    e.time_ms = (i % 2 ? -1 : 1) * static_cast<int64_t>(rng());
    e.flagged = i % 7 == 0;
    const std::string bytes = canonical(e);
    Entry back;
    back.user = "stale";
    ASSERT_TRUE(parse_canonical(bytes, back).ok()) << i;
    EXPECT_EQ(canonical(back), bytes);
    EXPECT_EQ(back.explanation, junk);
  }
}

TEST(EntryTest, OnlyCanonicalBytesParse) {
  const std::string good = canonical(make_entry(4));
  Entry out;
  ASSERT_TRUE(parse_canonical(good, out).ok());
  auto bad = [&](std::string s) {
    auto st = parse_canonical(s, out);
    EXPECT_FALSE(st.ok()) << s;
    if (!st.ok()) {
      EXPECT_EQ(st.error().code, Errc::integrity);
    }
  };
  bad(good + " ");
  bad(good.substr(0, good.size() - 1));
  bad("");
  bad(std::string(good).replace(good.find("\"time\":") + 7, 1, "01"));
  bad(std::string(good).replace(good.find("\"user\""), 6, "\"User\""));
  bad(std::string(good).replace(good.find("alice"), 1, "\\u0061"));
  bad(std::string(good).replace(good.find("alice"), 1, "\\/"));
  bad(std::string(good).replace(good.find("false"), 5, "0"));
  bad("{\"v\":1,\"time\":-0,\"user\":\"\"}");
  bad("{\"v\":1,\"time\":99999999999999999999999");
}

TEST_F(LogTest, SignsACheckpointEveryNEntriesInTheSameTransaction) {
  append(0, 34);  // 34 entries (fresh store, no init entry)
  auto cps = store_->audit_checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*cps)[i].size, 10 * (i + 1));
    auto cp = verify_checkpoint((*cps)[i].note, log_->verifier_key(), "medvault.local/test");
    ASSERT_TRUE(cp.ok()) << cp.error().message;
    EXPECT_EQ(cp->size, (*cps)[i].size);
    EXPECT_EQ(cp->root, expected_root(cp->size));
  }
  auto rep = log_->verify();
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->entries, 34u);
  EXPECT_EQ(rep->checkpoints, 3u);
  EXPECT_EQ(rep->root_hex, merkle::to_hex(expected_root(34)));
}

TEST_F(LogTest, ChainIsHmacSha256OfPreviousLinkAndLeafHash) {
  append(0, 3);
  auto rows = store_->audit_range(1, 3);
  ASSERT_TRUE(rows.ok());
  std::string prev(32, '\0');
  const std::vector<uint8_t> key(32, 1);
  for (const auto& r : *rows) {
    EXPECT_EQ(r.leaf_hash, merkle::to_bytes(merkle::leaf_hash(r.entry)));
    std::string msg = prev + r.leaf_hash;
    std::string mac(32, '\0');
    crypto_auth_hmacsha256_state st;  // libsodium, independently of log.cc
    crypto_auth_hmacsha256_init(&st, key.data(), key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
    crypto_auth_hmacsha256_final(&st, reinterpret_cast<uint8_t*>(mac.data()));
    EXPECT_EQ(r.chain, mac);
    prev = r.chain;
  }
}

TEST_F(LogTest, TreeRestoredAtOpenFromTheLastCheckpointOrFromEveryLeaf) {
  append(0, 27);
  reopen();
  auto note = log_->checkpoint();
  ASSERT_TRUE(note.ok());
  auto cp = verify_checkpoint(*note, log_->verifier_key());
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->size, 27u);
  EXPECT_EQ(cp->root, expected_root(27));
  // A damaged frontier is not trusted: the tree comes from every leaf.
  sql("UPDATE audit_checkpoint SET frontier=zeroblob(length(frontier))");
  reopen();
  append(27, 29);
  note = log_->checkpoint();
  ASSERT_TRUE(note.ok());
  cp = verify_checkpoint(*note, log_->verifier_key());
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->size, 29u);
  EXPECT_EQ(cp->root, expected_root(29));
  // ... and verify names the damaged checkpoint.
  auto rep = log_->verify();
  ASSERT_FALSE(rep.ok());
  EXPECT_NE(rep.error().message.find("checkpoint at size 10"), std::string::npos) << rep.error().message;
}

// append_async: every callback runs once, after its entries are stored;
// the entries of one call are consecutive; concurrent callers share
// transactions; the Log's destructor writes what is still queued.
TEST_F(LogTest, AsyncAppendsAreDurableBeforeTheirCallbackAndKeptTogether) {
  constexpr int kCalls = 200;
  std::mutex mu;
  std::vector<uint64_t> stored_at_callback(kCalls, 0);
  std::atomic<int> done{0};
  for (int c = 0; c < kCalls; ++c) {
    std::vector<Entry> three = {make_entry(3 * c), make_entry(3 * c + 1), make_entry(3 * c + 2)};
    for (auto& e : three) e.workstation = "call-" + std::to_string(c);
    log_->append_async(std::move(three), [&, c](Status st) {
      ASSERT_TRUE(st.ok()) << st.error().message;
      auto n = store_->audit_size();  // read through the store: committed rows
      std::lock_guard<std::mutex> lk(mu);
      stored_at_callback[c] = n.ok() ? *n : 0;
      done.fetch_add(1);
    });
  }
  log_.reset();  // drains the queue
  EXPECT_EQ(done.load(), kCalls);
  auto rows = store_->audit_range(1, 3 * kCalls);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u * kCalls);
  std::map<std::string, std::vector<uint64_t>> seqs;
  for (const auto& r : *rows) {
    Entry e;
    ASSERT_TRUE(parse_canonical(r.entry, e).ok());
    seqs[e.workstation].push_back(r.seq);
  }
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kCalls));
  for (const auto& [id, s] : seqs) {
    ASSERT_EQ(s.size(), 3u) << id;
    EXPECT_EQ(s[1], s[0] + 1) << id;
    EXPECT_EQ(s[2], s[0] + 2) << id;
  }
  for (int c = 0; c < kCalls; ++c) EXPECT_GE(stored_at_callback[c], seqs["call-" + std::to_string(c)][2]);
  reopen();
  auto v = log_->verify();
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->entries, 3u * kCalls);
}

// No entries: a caller that committed a write with commit_unsynced() waits
// for the disk alone; it is told ok, alone or with a batch written meanwhile.
TEST_F(LogTest, AsyncAppendWithoutEntriesReportsTheStoreSynced) {
  std::promise<Status> alone;
  log_->append_async({}, [&](Status st) { alone.set_value(std::move(st)); });
  Status st = alone.get_future().get();
  ASSERT_TRUE(st.ok()) << st.error().message;
  std::promise<Status> with_batch;
  log_->append_async({make_entry(1)}, [](Status) {});
  log_->append_async({}, [&](Status st) { with_batch.set_value(std::move(st)); });
  st = with_batch.get_future().get();
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(log_->size(), 1u);
}

// Entry 5 unreadable below the checkpoint at 10: the log ends at 4 entries
// for the store, and a signed checkpoint covers 10.
TEST_F(LogTest, AsyncAppendToADamagedLogCallsBackWithAnError) {
  append(0, 12);
  tamper([](auto&) {}, {5});
  std::promise<Status> decided;
  log_->append_async({make_entry(9)}, [&](Status st) { decided.set_value(std::move(st)); });
  const Status st = decided.get_future().get();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::unavailable);
}

TEST_F(LogTest, DamageBelowACheckpointOpensButRefusesAppends) {
  append(0, 12);
  tamper([](auto&) {}, {5});
  auto st = log_->append(make_entry(9));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::unavailable);
  EXPECT_FALSE(log_->checkpoint().ok());
  auto rep = log_->verify();
  ASSERT_FALSE(rep.ok());
  EXPECT_NE(rep.error().message.find("audit entry 5:"), std::string::npos) << rep.error().message;
}

// A power cut tears the end of the last segment: the torn record (and
// trailing zeros) are cut at open, after the newest checkpoint, and the log
// goes on. A well-formed record that does not chain is not cut.
TEST_F(LogTest, ATornTailAfterTheNewestCheckpointIsCutAtOpen) {
  append(0, 14);  // checkpoint at 10
  const auto seg = store::testing::last_audit_segment(dir_ / "vault.db");
  log_.reset();
  store_.reset();
  fs::resize_file(seg, fs::file_size(seg) - 7);  // entry 14 torn
  { std::ofstream(seg, std::ios::binary | std::ios::app) << std::string(3000, '\0'); }
  reopen_store();
  EXPECT_EQ(log_->size(), 13u);
  ASSERT_TRUE(log_->append(make_entry(20)).ok());
  auto rep = log_->verify();
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->entries, 14u);

  tamper([](auto&) {}, {12});  // entry 12 after the checkpoint: torn, cut with what follows
  EXPECT_EQ(log_->size(), 11u);
  ASSERT_TRUE(log_->verify().ok());

  tamper([](auto& rows) { rows[10].chain[0] ^= 1; });  // well formed, forged: kept
  EXPECT_EQ(log_->size(), 11u);
  rep = log_->verify();
  ASSERT_FALSE(rep.ok());
  EXPECT_NE(rep.error().message.find("audit entry 11: MAC chain broken"), std::string::npos) << rep.error().message;
}

// A change and its entry commit together, but the log's files are synced
// after COMMIT: a power cut may keep the change (the WAL reached the disk)
// and lose the files' tail. The entry copied into the change is appended
// again at open, after the last entry the files kept; the unacknowledged
// reads after it are gone, as they should be.
TEST_F(LogTest, AnEntryOfACommittedChangeLostByTheFilesIsAppendedAgainAtOpen) {
  append(0, 12);  // checkpoint at 10
  Entry w = make_entry(50);
  w.action = "update";
  w.detail = "free text of the change";
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_meta("changed", "yes").ok());
    ASSERT_TRUE(log_->add(**txn, {w}).ok());
    ASSERT_TRUE((*txn)->commit_unsynced().ok());  // as the server's writes
    log_->after_commit(true);
  }
  ASSERT_TRUE(store_->sync().ok());
  const auto written = store::testing::read_audit_rows(dir_ / "vault.db");
  ASSERT_EQ(written.size(), 13u);
  append(60, 62);
  tamper([](auto& rows) { rows.resize(12); });  // the power cut: the files end at 12
  EXPECT_EQ(log_->size(), 14u);
  const auto now = store::testing::read_audit_rows(dir_ / "vault.db");
  ASSERT_EQ(now.size(), 14u);
  EXPECT_EQ(now[12].entry, written[12].entry) << "the change's entry, byte for byte (detail still sealed)";
  Entry event;
  ASSERT_TRUE(parse_canonical(now[13].entry, event).ok());
  EXPECT_EQ(event.action, "security-event");
  EXPECT_TRUE(event.flagged);
  auto detail = log_->open_detail(event.detail);
  ASSERT_TRUE(detail.ok());
  EXPECT_NE(detail->find("ended at entry 12; 1 entries of committed changes (first written as 13, last as 13) "
                         "appended again as 13..13"),
            std::string::npos)
      << *detail;
  auto rep = log_->verify();
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->entries, 14u);
  reopen_store();  // recovered once: nothing more to do
  EXPECT_EQ(log_->size(), 14u);
  ASSERT_TRUE(log_->append(make_entry(70)).ok());
  EXPECT_TRUE(log_->verify().ok());
}

TEST_F(LogTest, IndexedColumnsMustMatchTheEntry) {
  append(0, 6);
  tamper([](auto& rows) { rows[2].user = "mallory"; });
  auto rep = log_->verify();
  ASSERT_FALSE(rep.ok());
  EXPECT_NE(rep.error().message.find("audit entry 3: indexed columns"), std::string::npos)
      << rep.error().message;
}

TEST_F(LogTest, WitnessCheckpoint) {
  append(0, 12);
  auto witness = log_->checkpoint();
  ASSERT_TRUE(witness.ok());
  append(12, 15);
  auto rep = log_->verify({*witness});
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->witness_size, 12u);
  // Signed by another key (another vault): refused, not trusted.
  auto other = sign_checkpoint("medvault.local/test", 12, expected_root(12),
                               std::vector<uint8_t>(32, 9), "medvault.local/test");
  ASSERT_TRUE(other.ok());
  rep = log_->verify({*other});
  ASSERT_FALSE(rep.ok());
  EXPECT_NE(rep.error().message.find("exported checkpoint rejected"), std::string::npos);
  // Truncated below the witness.
  sql("DELETE FROM audit_checkpoint WHERE size > 9");
  tamper([](auto& rows) { rows.resize(9); });
  rep = log_->verify({*witness});
  ASSERT_FALSE(rep.ok());
  EXPECT_NE(rep.error().message.find("audit entry 10: missing"), std::string::npos) << rep.error().message;
}

TEST_F(LogTest, ProofsVerifyAgainstSignedCheckpoints) {
  append(0, 23);
  auto note = log_->checkpoint();
  ASSERT_TRUE(note.ok());
  auto cp = verify_checkpoint(*note, log_->verifier_key());
  ASSERT_TRUE(cp.ok());
  for (uint64_t seq = 1; seq <= 23; ++seq) {
    auto p = log_->prove_inclusion(seq);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->root, cp->root);
    EXPECT_TRUE(merkle::verify_inclusion(p->leaf, seq - 1, 23, p->path, cp->root).ok());
  }
  for (uint64_t old = 0; old <= 23; ++old) {
    auto p = log_->prove_consistency(old, 23);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->old_root, old ? expected_root(old) : merkle::empty_root());
    EXPECT_TRUE(merkle::verify_consistency(old, p->old_root, 23, cp->root, p->path).ok());
  }
  EXPECT_EQ(log_->prove_inclusion(0).error().code, Errc::invalid);
  EXPECT_EQ(log_->prove_inclusion(24).error().code, Errc::invalid);
  EXPECT_EQ(log_->prove_inclusion(3, 24).error().code, Errc::invalid);
  EXPECT_EQ(log_->prove_consistency(24).error().code, Errc::invalid);
}

TEST_F(LogTest, ExportWalkDecryptsDetails) {
  append(0, 9);
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log_->for_each(3, [&](uint64_t seq, const Entry& e) {
    seqs.push_back(seq);
    if (!e.detail.empty()) {
      auto d = log_->open_detail(e.detail);
      EXPECT_TRUE(d.ok());
      if (d.ok()) {
        EXPECT_EQ(d->rfind("free text ", 0), 0u);
      }
    }
    return true;
  }).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 4, 5, 6, 7, 8, 9}));
}

}  // namespace
}  // namespace medvault::audit
