// The audit log: append-only, every entry a leaf of the RFC 9162 Merkle tree
// (leaf hash = SHA-256(0x00 || canonical entry)) and a link of a MAC chain
// (chain_n = HMAC-SHA-256(audit MAC key, chain_{n-1} || leaf_hash_n)), so
// that nobody without the master key can rewrite the log consistently.
//
// Two ways to append:
//  - add(): inside a write transaction of the store, so the entry commits
//    atomically with the change it records (writes, imports, key rotation);
//  - append(): a durable append of its own, batched with concurrent callers
//    into one transaction (group commit), for reads: it returns only once the
//    entry is on disk, and the caller returns patient data only after that.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "audit/entry.h"
#include "common/clock.h"
#include "common/result.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace medvault::audit {

struct VerifyReport {
  uint64_t entries = 0;
  std::string chain_head_hex;  // last chain value
};

class Log {
 public:
  // Loads the head of the chain from the store.
  static Result<std::unique_ptr<Log>> open(store::Store& store, crypto::SecretKey mac_key,
                                           crypto::SecretKey detail_key);

  // Appends inside `txn`; the caller must call after_commit(ok) once the
  // transaction has committed (true) or been abandoned (false). REQUIRES: txn
  // holds the store's writer lock (every store Transaction does).
  Status add(store::Transaction& txn, std::vector<Entry> entries);
  void after_commit(bool committed);

  // Durable append with group commit. Errc::unavailable if the log cannot be
  // written (the caller must then refuse the request: fail closed).
  Status append(Entry entry);

  // Recomputes every leaf hash and the MAC chain. Errc::integrity naming the
  // first bad sequence number: "audit entry 1234: leaf hash mismatch".
  Result<VerifyReport> verify();

  // Decrypts an entry's detail field (for the privacy officer's viewer).
  Result<std::string> open_detail(const std::string& sealed_b64) const;

  uint64_t size() const;

 private:
  Log(store::Store& store, crypto::SecretKey mac_key, crypto::SecretKey detail_key)
      : store_(store), mac_key_(std::move(mac_key)), detail_key_(std::move(detail_key)) {}
  std::string chain_next(const std::string& prev, const std::string& leaf) const;
  Status write_batch(std::vector<Entry> batch);

  store::Store& store_;
  crypto::SecretKey mac_key_;
  crypto::SecretKey detail_key_;

  // Head of the committed log, and the head staged by the transaction in
  // progress (only one at a time: the store serialises writers).
  mutable std::mutex head_mu_;
  uint64_t seq_ = 0;
  std::string chain_;  // 32 bytes; all zero for the empty log
  uint64_t staged_seq_ = 0;
  std::string staged_chain_;
  bool staged_ = false;
  const store::Transaction* staged_txn_ = nullptr;

  // Group commit.
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::vector<Entry> queue_;
  uint64_t enqueued_ = 0;    // tickets handed out
  uint64_t completed_ = 0;   // tickets whose batch has been decided
  bool leader_active_ = false;
  // Failed batches only, keyed by their last ticket: {first ticket, error}.
  // A completed ticket not covered here succeeded.
  std::map<uint64_t, std::pair<uint64_t, Status>> failed_;
};

}  // namespace medvault::audit
