#include "audit/log.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <bit>
#include <cstring>
#include <future>

#include "crypto/aead.h"

namespace medvault::audit {
namespace {

constexpr std::string_view kDetailAd = "medvault-audit-detail-v1";
// Rows per read snapshot when walking the whole log.
constexpr uint64_t kScanChunk = 65536;
constexpr size_t kHash = merkle::kHashSize;

std::string to_base64(const std::string& bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

std::string to_hex(std::string_view bin) {
  std::string out(bin.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                 bin.size());
  out.pop_back();
  return out;
}

Error bad_entry(uint64_t seq, const std::string& why) {
  return make_error(Errc::integrity, "audit entry " + std::to_string(seq) + ": " + why);
}

// The MAC chain's HMAC-SHA-256 (RFC 2104), keyed once: the hash states after
// the key blocks are copied for each link, so a link costs three SHA-256
// blocks. Through OpenSSL (SHA extensions: `audit verify` spends most of its
// time here otherwise); libsodium computes the same function if OpenSSL
// cannot. The keyed states are as secret as the key: OpenSSL cleanses them
// when the contexts are freed, libsodium's is wiped here.
class ChainMac {
 public:
  explicit ChainMac(const crypto::SecretKey& key)
      : inner_(EVP_MD_CTX_new()), outer_(EVP_MD_CTX_new()), work_(EVP_MD_CTX_new()) {
    crypto_auth_hmacsha256_init(&keyed_, key.data(), key.size());
    std::array<uint8_t, 64> ipad{}, opad{};
    for (size_t i = 0; i < ipad.size(); ++i) {
      const uint8_t k = i < key.size() ? key.data()[i] : 0;
      ipad[i] = k ^ 0x36;
      opad[i] = k ^ 0x5c;
    }
    fast_ = inner_ && outer_ && work_ && EVP_DigestInit_ex(inner_, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(inner_, ipad.data(), ipad.size()) == 1 &&
            EVP_DigestInit_ex(outer_, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(outer_, opad.data(), opad.size()) == 1;
    sodium_memzero(ipad.data(), ipad.size());
    sodium_memzero(opad.data(), opad.size());
  }
  ~ChainMac() {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    EVP_MD_CTX_free(work_);
    sodium_memzero(&keyed_, sizeof keyed_);
  }
  ChainMac(const ChainMac&) = delete;
  ChainMac& operator=(const ChainMac&) = delete;

  // out = HMAC(key, prev || leaf); each 32 bytes. out may alias prev.
  void next(const uint8_t* prev, const uint8_t* leaf, uint8_t* out) {
    if (fast_) {
      uint8_t ih[kHash];
      unsigned int len = 0;
      if (EVP_MD_CTX_copy_ex(work_, inner_) == 1 && EVP_DigestUpdate(work_, prev, kHash) == 1 &&
          EVP_DigestUpdate(work_, leaf, kHash) == 1 && EVP_DigestFinal_ex(work_, ih, &len) == 1 &&
          len == kHash && EVP_MD_CTX_copy_ex(work_, outer_) == 1 &&
          EVP_DigestUpdate(work_, ih, kHash) == 1 && EVP_DigestFinal_ex(work_, out, &len) == 1 &&
          len == kHash)
        return;
    }
    crypto_auth_hmacsha256_state st = keyed_;
    crypto_auth_hmacsha256_update(&st, prev, kHash);
    crypto_auth_hmacsha256_update(&st, leaf, kHash);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
  }

 private:
  EVP_MD_CTX* inner_;
  EVP_MD_CTX* outer_;
  EVP_MD_CTX* work_;
  bool fast_ = false;
  crypto_auth_hmacsha256_state keyed_;
};

std::string frontier_bytes(const merkle::Tree& t) {
  std::string out;
  out.reserve(t.frontier().size() * kHash);
  for (const auto& h : t.frontier()) out.append(reinterpret_cast<const char*>(h.data()), kHash);
  return out;
}

}  // namespace

Log::Log(store::Store& store, LogKeys keys, LogOptions options)
    : store_(store), mac_key_(std::move(keys.mac)), detail_key_(std::move(keys.detail)),
      signing_seed_(std::move(keys.signing)), opt_(std::move(options)) {}

Result<std::unique_ptr<Log>> Log::open(store::Store& store, LogKeys keys, LogOptions options) {
  if (options.clock == nullptr) options.clock = &SystemClock::instance();
  std::unique_ptr<Log> log(new Log(store, std::move(keys), std::move(options)));
  MV_ASSIGN(log->vkey_, verifier_key_from_seed(log->opt_.origin, log->signing_seed_.bytes()));
  MV_ASSIGN(uint64_t n, store.audit_size());
  log->chain_.assign(kHash, '\0');
  log->seq_ = n;
  if (n > 0) {
    MV_ASSIGN(auto rows, store.audit_range(n, 1));
    if (rows.size() != 1 || rows[0].seq != n || rows[0].chain.size() != kHash)
      log->damaged_ = "audit entry " + std::to_string(n) + " is damaged";
    else
      log->chain_ = rows[0].chain;
  }
  MV_TRY(log->restore_tree(n));
  MV_TRY(log->recover_orphans());
  return log;
}

// Entries of committed changes that the store's log lost in a power cut
// (store::Transaction::take_audit_orphans): appended again, after the last
// entry that survived, with new sequence numbers and chain values. Their
// bytes are those the change recorded.
Status Log::recover_orphans() {
  MV_ASSIGN(const bool any, store_.has_audit_orphans());
  if (!any || !damaged_.empty()) return ok_status();
  MV_ASSIGN(auto txn, store_.begin());
  MV_ASSIGN(auto orphans, txn->take_audit_orphans());
  std::vector<Entry> entries;
  for (const auto& o : orphans) {
    Entry e;
    if (!parse_canonical(o.entry, e).ok())
      return make_error(Errc::integrity, "an audit entry kept for recovery is not a canonical entry");
    entries.push_back(std::move(e));
  }
  const uint64_t first = orphans.empty() ? 0 : orphans.front().seq, last = orphans.empty() ? 0 : orphans.back().seq;
  const uint64_t at = seq_ + 1;
  Status st = add(*txn, std::move(entries), /*sealed=*/true);
  if (st.ok() && !orphans.empty()) {  // for the privacy officer: the log lost entries and got some back
    Entry e;
    e.time_ms = opt_.clock->now_ms();
    e.user = "medvault";
    e.role = "system";
    e.action = "security-event";
    e.address = "localhost";
    e.outcome = "0";
    e.flagged = true;
    e.explanation = "audit log recovery";
    e.detail = "the log's files ended at entry " + std::to_string(at - 1) + "; " + std::to_string(orphans.size()) +
               " entries of committed changes (first written as " + std::to_string(first) + ", last as " +
               std::to_string(last) + ") appended again as " + std::to_string(at) + ".." +
               std::to_string(at + orphans.size() - 1) + " (a power cut, or the files were cut short)";
    st = add(*txn, {std::move(e)});
  }
  if (st.ok()) st = txn->commit();
  after_commit(st.ok());
  return st;
}

// The last checkpoint's frontier is trusted only if it gives the root that
// the checkpoint's signature (by this log's key) vouches for; finding another
// frontier with that root would be a SHA-256 collision.
Status Log::restore_tree(uint64_t n) {
  merkle::Tree t;
  MV_ASSIGN(auto last, store_.last_audit_checkpoint());
  // Entries a signed checkpoint covers are gone: appending would give their
  // sequence numbers to other entries.
  if (last && last->size > n && damaged_.empty())
    damaged_ = "audit entry " + std::to_string(n + 1) + " is missing: the log ends at " + std::to_string(n) +
               " entries but a signed checkpoint covers " + std::to_string(last->size);
  if (last && last->size <= n && last->frontier.size() == std::popcount(last->size) * kHash) {
    auto cp = verify_checkpoint(last->note, vkey_, opt_.origin);
    if (cp.ok() && cp->size == last->size) {
      std::vector<merkle::Hash> f(last->frontier.size() / kHash);
      for (size_t i = 0; i < f.size(); ++i)
        std::memcpy(f[i].data(), last->frontier.data() + i * kHash, kHash);
      auto restored = merkle::Tree::from_frontier(last->size, std::move(f));
      if (restored.ok() && restored->root() == cp->root) t = std::move(restored).value();
    }
  }
  uint64_t expect = t.size() + 1;
  bool bad = false;
  merkle::Hash h;
  MV_TRY(store_.audit_scan(expect, n - t.size(), [&](const store::AuditRowView& v) {
    if (v.seq != expect || v.leaf_hash.size() != kHash) {
      bad = true;
      return false;
    }
    std::memcpy(h.data(), v.leaf_hash.data(), kHash);
    t.append(h);
    ++expect;
    return true;
  }));
  if ((bad || t.size() != n) && damaged_.empty())
    damaged_ = "audit entry " + std::to_string(t.size() + 1) + " is damaged";
  tree_ = std::move(t);
  return ok_status();
}

Result<store::AuditCheckpointRow> Log::sign(const merkle::Tree& tree) const {
  store::AuditCheckpointRow row;
  row.size = tree.size();
  row.time_ms = opt_.clock->now_ms();
  MV_ASSIGN(row.note, sign_checkpoint(opt_.origin, tree.size(), tree.root(), signing_seed_.bytes(),
                                      opt_.origin));
  row.frontier = frontier_bytes(tree);
  return row;
}

std::string Log::verifier_key() const { return format_verifier_key(vkey_); }

Status Log::add(store::Transaction& txn, std::vector<Entry> entries) { return add(txn, std::move(entries), false); }

Status Log::add(store::Transaction& txn, std::vector<Entry> entries, bool sealed) {
  std::lock_guard<std::mutex> lock(head_mu_);
  if (!damaged_.empty())
    return make_error(Errc::unavailable, damaged_ + "; run medvault audit verify");
  // A transaction that ended without after_commit() left no trace: the
  // writer lock is exclusive, so a new transaction means the old one is over.
  if (staged_ && staged_txn_ != &txn) staged_ = false;
  if (!staged_) MV_TRY(catch_up_locked());
  uint64_t seq = staged_ ? staged_seq_ : seq_;
  std::string chain = staged_ ? staged_chain_ : chain_;
  merkle::Tree tree = staged_ ? staged_tree_ : tree_;
  ChainMac mac(mac_key_);
  std::vector<store::AuditRow> rows;
  std::vector<store::AuditCheckpointRow> checkpoints;
  rows.reserve(entries.size());
  for (auto& e : entries) {
    if (!sealed && !e.detail.empty()) e.detail = to_base64(crypto::seal(detail_key_, kDetailAd, e.detail));
    store::AuditRow row;
    row.seq = ++seq;
    row.time_ms = e.time_ms;
    row.patient = e.patient;
    row.user = e.user;
    row.entry = canonical(e);
    const merkle::Hash leaf = merkle::leaf_hash(row.entry);
    row.leaf_hash = merkle::to_bytes(leaf);
    auto* c = reinterpret_cast<uint8_t*>(chain.data());
    mac.next(c, leaf.data(), c);
    row.chain = chain;
    rows.push_back(std::move(row));
    tree.append(leaf);
    if (opt_.checkpoint_every != 0 && tree.size() % opt_.checkpoint_every == 0) {
      MV_ASSIGN(auto cp, sign(tree));
      checkpoints.push_back(std::move(cp));
    }
  }
  MV_TRY(txn.append_audit(rows));
  for (const auto& cp : checkpoints) MV_TRY(txn.put_audit_checkpoint(cp));
  staged_ = true;
  staged_txn_ = &txn;
  staged_seq_ = seq;
  staged_chain_ = std::move(chain);
  staged_tree_ = std::move(tree);
  return ok_status();
}

Status Log::catch_up_locked() {
  MV_ASSIGN(const uint64_t n, store_.audit_size());
  if (n <= seq_) return ok_status();
  ChainMac mac(mac_key_);
  std::string chain = chain_;
  merkle::Tree tree = tree_;
  uint64_t expect = seq_ + 1;
  bool bad = false;
  MV_TRY(store_.audit_scan(expect, n - seq_, [&](const store::AuditRowView& v) {
    if (v.seq != expect || v.leaf_hash.size() != kHash || v.chain.size() != kHash ||
        merkle::to_bytes(merkle::leaf_hash(v.entry)) != v.leaf_hash) {
      bad = true;
      return false;
    }
    merkle::Hash h;
    std::memcpy(h.data(), v.leaf_hash.data(), kHash);
    auto* c = reinterpret_cast<uint8_t*>(chain.data());
    mac.next(c, h.data(), c);
    if (chain != v.chain) {
      bad = true;
      return false;
    }
    tree.append(h);
    ++expect;
    return true;
  }));
  if (bad || expect != n + 1)
    return make_error(Errc::unavailable,
                      "audit entry " + std::to_string(expect) + " (written by another process) does not verify");
  seq_ = n;
  chain_ = std::move(chain);
  tree_ = std::move(tree);
  return ok_status();
}

void Log::after_commit(bool committed) {
  std::lock_guard<std::mutex> lock(head_mu_);
  if (committed && staged_) {
    seq_ = staged_seq_;
    chain_ = staged_chain_;
    tree_ = staged_tree_;
  }
  staged_ = false;
  staged_txn_ = nullptr;
}

Log::~Log() {
  {
    std::lock_guard<std::mutex> lk(q_mu_);
    stopping_ = true;
  }
  q_cv_.notify_one();
  if (writer_.joinable()) writer_.join();
}

Status Log::append(Entry entry) {
  std::vector<Entry> one;
  one.push_back(std::move(entry));
  return append(std::move(one));
}

Status Log::append(std::vector<Entry> entries) {
  std::promise<Status> decided;
  auto result = decided.get_future();
  append_async(std::move(entries), [&decided](Status st) { decided.set_value(std::move(st)); });
  return result.get();
}

void Log::append_async(std::vector<Entry> entries, Done done) {
  {
    std::lock_guard<std::mutex> lk(q_mu_);
    if (!writer_.joinable()) writer_ = std::thread([this] { writer_loop(); });
    queue_.push_back({std::move(entries), std::move(done)});
  }
  q_cv_.notify_one();
}

void Log::writer_loop() {
  // Large enough that a batch is rarely cut under load, small enough that
  // one transaction stays short (a few MB of entries).
  constexpr size_t kMaxBatch = 8192;
  std::vector<Pending> taken;
  std::unique_lock<std::mutex> lk(q_mu_);
  for (;;) {
    q_cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left to write
    size_t n = 0, take = 0;
    while (take < queue_.size() && (take == 0 || n + queue_[take].entries.size() <= kMaxBatch))
      n += queue_[take++].entries.size();
    taken.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + take));
    queue_.erase(queue_.begin(), queue_.begin() + take);
    lk.unlock();
    std::vector<Entry> batch;
    batch.reserve(n);
    for (auto& p : taken)
      for (auto& e : p.entries) batch.push_back(std::move(e));
    // A batch's commit syncs the WAL after every commit made before it was
    // queued; callers with nothing to append wait for a sync of their own.
    const Status st = batch.empty() ? sync_store() : write_batch(std::move(batch));
    for (auto& p : taken) p.done(st);
    taken.clear();
    lk.lock();
  }
}

Status Log::sync_store() {
  if (auto st = store_.sync(); !st.ok())
    return make_error(Errc::unavailable, "cannot make the change durable: " + st.error().message);
  return ok_status();
}

Status Log::write_batch(std::vector<Entry> batch) {
  auto txn = store_.begin();
  if (!txn.ok())
    return make_error(Errc::unavailable, "audit log unavailable: " + txn.error().message);
  Status st = add(**txn, std::move(batch));
  if (st.ok()) st = (*txn)->commit();
  after_commit(st.ok());
  if (!st.ok()) return make_error(Errc::unavailable, "audit log unavailable: " + st.error().message);
  return ok_status();
}

Result<std::string> Log::checkpoint() {
  // The writer lock keeps appends out while the committed tree is signed.
  MV_ASSIGN(auto txn, store_.begin());
  merkle::Tree tree;
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    if (!damaged_.empty())
      return make_error(Errc::integrity, damaged_ + "; run medvault audit verify");
    MV_TRY(catch_up_locked());  // sign what is stored, whoever wrote it
    tree = tree_;
  }
  MV_ASSIGN(auto row, sign(tree));
  MV_TRY(txn->put_audit_checkpoint(row));
  MV_TRY(txn->commit());
  return row.note;
}

Result<VerifyReport> Log::verify(const VerifyOptions& options) {
  VerifyReport rep;
  // Read before the walk: whatever is appended meanwhile comes after these.
  MV_ASSIGN(const uint64_t stored_max, store_.audit_size());
  MV_ASSIGN(const auto checkpoints, store_.audit_checkpoints());
  std::optional<Checkpoint> witness;
  if (options.witness_note) {
    auto w = verify_checkpoint(*options.witness_note, vkey_, opt_.origin);
    if (!w.ok())
      return make_error(Errc::integrity, "exported checkpoint rejected: " + w.error().message);
    witness = std::move(w).value();
    rep.witness_size = witness->size;
  }

  merkle::Tree tree;
  std::array<uint8_t, kHash> chain{};
  ChainMac mac(mac_key_);
  Entry parsed;
  size_t next_cp = 0;
  uint64_t next = 1;
  Status failure = ok_status();

  // Every stored checkpoint and the witness, at the tree size they cover.
  auto check_checkpoints = [&]() -> Status {
    for (; next_cp < checkpoints.size() && checkpoints[next_cp].size <= tree.size(); ++next_cp) {
      const auto& row = checkpoints[next_cp];
      const std::string where = "audit checkpoint at size " + std::to_string(row.size) + ": ";
      auto cp = verify_checkpoint(row.note, vkey_, opt_.origin);
      if (!cp.ok()) return make_error(Errc::integrity, where + cp.error().message);
      if (cp->size != row.size) return make_error(Errc::integrity, where + "its note covers another size");
      if (cp->root != tree.root())
        return make_error(Errc::integrity, where + "signed root does not match entries 1.." +
                                               std::to_string(row.size) +
                                               " (log rewritten or rolled back)");
      if (row.frontier != frontier_bytes(tree))
        return make_error(Errc::integrity, where + "stored frontier is damaged");
      ++rep.checkpoints;
    }
    if (witness && witness->size == tree.size() && witness->root != tree.root())
      return make_error(Errc::integrity,
                        "audit log does not extend the exported checkpoint: its first " +
                            std::to_string(witness->size) +
                            " entries differ from what was exported (rewritten or rolled back)");
    return ok_status();
  };

  auto check_row = [&](const store::AuditRowView& r) -> Status {
    if (r.seq != next)
      return bad_entry(next, "missing (next stored is " + std::to_string(r.seq) + ")");
    if (r.leaf_hash.size() != kHash || r.chain.size() != kHash)
      return bad_entry(next, "damaged hash columns");
    const merkle::Hash leaf = merkle::leaf_hash(r.entry);
    if (std::memcmp(leaf.data(), r.leaf_hash.data(), kHash) != 0)
      return bad_entry(next, "entry does not match its leaf hash");
    if (!parse_canonical(r.entry, parsed).ok())
      return bad_entry(next, "entry bytes are not a canonical entry");
    if (parsed.time_ms != r.time_ms || parsed.patient != r.patient || parsed.user != r.user)
      return bad_entry(next, "indexed columns (time, patient, user) do not match the entry");
    mac.next(chain.data(), leaf.data(), chain.data());
    if (std::memcmp(chain.data(), r.chain.data(), kHash) != 0)
      return bad_entry(next, "MAC chain broken (entry altered, inserted, removed or reordered)");
    tree.append(leaf);
    ++next;
    return ok_status();
  };

  MV_TRY(check_checkpoints());  // a checkpoint of the empty log
  for (;;) {
    uint64_t got = 0;
    MV_TRY(store_.audit_scan(next, kScanChunk, [&](const store::AuditRowView& r) {
      ++got;
      failure = check_row(r);
      if (failure.ok()) failure = check_checkpoints();
      return failure.ok();
    }));
    MV_TRY(failure);
    if (got == 0) break;
  }
  const uint64_t n = next - 1;
  if (n < stored_max) return bad_entry(next, "missing");
  if (next_cp < checkpoints.size())
    return bad_entry(next, "missing: the log ends at " + std::to_string(n) +
                               " entries but a stored checkpoint covers " +
                               std::to_string(checkpoints[next_cp].size) + " (truncated)");
  if (witness && witness->size > n)
    return bad_entry(next, "missing: the log ends at " + std::to_string(n) +
                               " entries but the exported checkpoint covers " +
                               std::to_string(witness->size) + " (truncated or rolled back)");
  rep.entries = n;
  rep.chain_head_hex = to_hex(std::string_view(reinterpret_cast<const char*>(chain.data()), kHash));
  rep.root_hex = merkle::to_hex(tree.root());
  return rep;
}

merkle::LeafReader Log::leaf_reader() {
  return [this](uint64_t first, std::span<merkle::Hash> out) -> Status {
    size_t i = 0;
    bool bad = false;
    MV_TRY(store_.audit_scan(first + 1, out.size(), [&](const store::AuditRowView& v) {
      if (v.seq != first + 1 + i || v.leaf_hash.size() != kHash) {
        bad = true;
        return false;
      }
      std::memcpy(out[i].data(), v.leaf_hash.data(), kHash);
      ++i;
      return true;
    }));
    if (bad || i != out.size())
      return bad_entry(first + 1 + i, "missing or damaged leaf hash; run medvault audit verify");
    return ok_status();
  };
}

Result<merkle::Hash> Log::root_at(uint64_t size) {
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    if (tree_.size() == size) return tree_.root();
  }
  if (size == 0) return merkle::empty_root();
  return merkle::root(size, leaf_reader());
}

Result<InclusionProof> Log::prove_inclusion(uint64_t seq, uint64_t size) {
  const uint64_t n = this->size();
  if (size == 0) size = n;
  if (size > n)
    return make_error(Errc::invalid, "tree size " + std::to_string(size) + " exceeds the log (" +
                                         std::to_string(n) + " entries)");
  if (seq == 0 || seq > size)
    return make_error(Errc::invalid, "entry " + std::to_string(seq) + " is not in a tree of " +
                                         std::to_string(size) + " entries");
  InclusionProof p;
  p.index = seq - 1;
  p.size = size;
  auto read = leaf_reader();
  MV_TRY(read(p.index, std::span<merkle::Hash>(&p.leaf, 1)));
  MV_ASSIGN(p.path, merkle::inclusion_proof(p.index, size, read));
  MV_ASSIGN(p.root, root_at(size));
  // The proof is checked before it leaves: a stored leaf hash that differs
  // from the one the tree was built from shows here.
  if (auto st = merkle::verify_inclusion(p.leaf, p.index, size, p.path, p.root); !st.ok())
    return make_error(Errc::integrity, "inclusion proof does not verify (" + st.error().message +
                                           "); run medvault audit verify");
  return p;
}

Result<ConsistencyProof> Log::prove_consistency(uint64_t old_size, uint64_t size) {
  const uint64_t n = this->size();
  if (size == 0) size = n;
  if (size > n)
    return make_error(Errc::invalid, "tree size " + std::to_string(size) + " exceeds the log (" +
                                         std::to_string(n) + " entries)");
  if (old_size > size)
    return make_error(Errc::invalid, "old size " + std::to_string(old_size) +
                                         " exceeds the new size " + std::to_string(size));
  ConsistencyProof p;
  p.old_size = old_size;
  p.size = size;
  MV_ASSIGN(p.path, merkle::consistency_proof(old_size, size, leaf_reader()));
  MV_ASSIGN(p.old_root, root_at(old_size));
  MV_ASSIGN(p.root, root_at(size));
  if (auto st = merkle::verify_consistency(old_size, p.old_root, size, p.root, p.path); !st.ok())
    return make_error(Errc::integrity, "consistency proof does not verify (" +
                                           st.error().message + "); run medvault audit verify");
  return p;
}

Status Log::for_each(uint64_t first_seq, const std::function<bool(uint64_t, const Entry&)>& fn) {
  Entry e;
  uint64_t next = first_seq == 0 ? 1 : first_seq;
  Status failure = ok_status();
  bool stop = false;
  for (;;) {
    uint64_t got = 0;
    MV_TRY(store_.audit_scan(next, kScanChunk, [&](const store::AuditRowView& r) {
      ++got;
      if (!parse_canonical(r.entry, e).ok()) {
        failure = bad_entry(r.seq, "entry bytes are not a canonical entry");
        return false;
      }
      next = r.seq + 1;
      if (!fn(r.seq, e)) stop = true;
      return !stop;
    }));
    MV_TRY(failure);
    if (got == 0 || stop) break;
  }
  return ok_status();
}

Result<std::string> Log::open_detail(const std::string& sealed_b64) const {
  std::string bin(sealed_b64.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(),
                        sealed_b64.data(), sealed_b64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return make_error(Errc::integrity, "audit detail is not valid base64");
  bin.resize(len);
  return crypto::open(detail_key_, kDetailAd, bin);
}

uint64_t Log::size() const {
  std::lock_guard<std::mutex> lock(head_mu_);
  return seq_;
}

}  // namespace medvault::audit
