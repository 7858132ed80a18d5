#include "audit/log.h"

#include <sodium.h>

#include <map>

#include "crypto/aead.h"

namespace medvault::audit {
namespace {

constexpr std::string_view kDetailAd = "medvault-audit-detail-v1";

std::string sha256_leaf(const std::string& entry) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  const unsigned char prefix = 0x00;
  crypto_hash_sha256_update(&st, &prefix, 1);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(entry.data()),
                            entry.size());
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256_final(&st, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string to_hex(const std::string& bin) {
  std::string out(bin.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                 bin.size());
  out.pop_back();
  return out;
}

std::string to_base64(const std::string& bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

}  // namespace

Result<std::unique_ptr<Log>> Log::open(store::Store& store, crypto::SecretKey mac_key,
                                       crypto::SecretKey detail_key) {
  std::unique_ptr<Log> log(new Log(store, std::move(mac_key), std::move(detail_key)));
  MV_ASSIGN(uint64_t n, store.audit_size());
  log->chain_.assign(32, '\0');
  if (n > 0) {
    MV_ASSIGN(auto rows, store.audit_range(n, 1));
    if (rows.size() != 1 || rows[0].chain.size() != 32)
      return make_error(Errc::integrity, "audit entry " + std::to_string(n) + ": missing or damaged");
    log->chain_ = rows[0].chain;
  }
  log->seq_ = n;
  return log;
}

std::string Log::chain_next(const std::string& prev, const std::string& leaf) const {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, mac_key_.data(), mac_key_.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(prev.data()),
                                prev.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(leaf.data()),
                                leaf.size());
  std::string out(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&st, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

Status Log::add(store::Transaction& txn, std::vector<Entry> entries) {
  std::lock_guard<std::mutex> lock(head_mu_);
  // A transaction that ended without after_commit() left no trace: the
  // writer lock is exclusive, so a new transaction means the old one is over.
  if (staged_ && staged_txn_ != &txn) staged_ = false;
  uint64_t seq = staged_ ? staged_seq_ : seq_;
  std::string chain = staged_ ? staged_chain_ : chain_;
  std::vector<store::AuditRow> rows;
  rows.reserve(entries.size());
  for (auto& e : entries) {
    if (!e.detail.empty()) e.detail = to_base64(crypto::seal(detail_key_, kDetailAd, e.detail));
    store::AuditRow row;
    row.seq = ++seq;
    row.time_ms = e.time_ms;
    row.patient = e.patient;
    row.user = e.user;
    row.entry = canonical(e);
    row.leaf_hash = sha256_leaf(row.entry);
    chain = chain_next(chain, row.leaf_hash);
    row.chain = chain;
    rows.push_back(std::move(row));
  }
  MV_TRY(txn.append_audit(rows));
  staged_ = true;
  staged_txn_ = &txn;
  staged_seq_ = seq;
  staged_chain_ = std::move(chain);
  return ok_status();
}

void Log::after_commit(bool committed) {
  std::lock_guard<std::mutex> lock(head_mu_);
  if (committed && staged_) {
    seq_ = staged_seq_;
    chain_ = staged_chain_;
  }
  staged_ = false;
  staged_txn_ = nullptr;
}

Status Log::append(Entry entry) {
  std::unique_lock<std::mutex> lk(q_mu_);
  const uint64_t ticket = ++enqueued_;
  queue_.push_back(std::move(entry));
  for (;;) {
    if (completed_ >= ticket) {
      auto it = failed_.lower_bound(ticket);
      if (it != failed_.end() && it->second.first <= ticket)
        return it->second.second;
      return ok_status();
    }
    if (!leader_active_) {
      leader_active_ = true;
      std::vector<Entry> batch;
      batch.swap(queue_);
      const uint64_t first = completed_ + 1;
      const uint64_t upto = enqueued_;
      lk.unlock();
      Status st = write_batch(std::move(batch));
      lk.lock();
      if (!st.ok()) {
        failed_[upto] = {first, st};
        while (failed_.size() > 1024) failed_.erase(failed_.begin());
      }
      completed_ = upto;
      leader_active_ = false;
      q_cv_.notify_all();
      continue;
    }
    q_cv_.wait(lk);
  }
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

Result<VerifyReport> Log::verify() {
  VerifyReport rep;
  std::string chain(32, '\0');
  uint64_t next = 1;
  constexpr size_t kChunk = 10000;
  for (;;) {
    MV_ASSIGN(auto rows, store_.audit_range(next, kChunk));
    if (rows.empty()) break;
    for (const auto& r : rows) {
      const std::string where = "audit entry " + std::to_string(next);
      if (r.seq != next) return make_error(Errc::integrity, where + ": missing (next stored is " +
                                                                std::to_string(r.seq) + ")");
      if (sha256_leaf(r.entry) != r.leaf_hash)
        return make_error(Errc::integrity, where + ": entry does not match its leaf hash");
      chain = chain_next(chain, r.leaf_hash);
      if (chain != r.chain)
        return make_error(Errc::integrity, where + ": MAC chain broken (entry altered, inserted, "
                                                   "removed or reordered)");
      ++next;
    }
  }
  rep.entries = next - 1;
  rep.chain_head_hex = to_hex(chain);
  return rep;
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
