// The audit log: append-only, every entry a leaf of the RFC 9162 Merkle tree
// (leaf hash = SHA-256(0x00 || canonical entry)) and a link of a MAC chain
// (chain_n = HMAC-SHA-256(audit MAC key, chain_{n-1} || leaf_hash_n)), so
// that nobody without the master key can rewrite the log consistently, and
// signed checkpoints (C2SP signed notes over the tree root) so that nobody,
// the key holder included, can rewrite or roll back the log below a
// checkpoint a witness holds. Formats: docs/formats/audit.md.
//
// Two ways to append:
//  - add(): inside a write transaction of the store, so the entry commits
//    atomically with the change it records (writes, imports, key rotation);
//  - append() / append_async(): a durable append of its own, for reads. The
//    log's writer thread commits everything queued while it wrote the
//    previous batch as one transaction (group commit), so batches grow with
//    the load. append() returns once the entry is on disk; append_async()
//    returns at once and calls back then, so that a server can hold the
//    answer without holding a thread. Either way the caller releases patient
//    data only after a successful callback.
// Either way, every time the log reaches a multiple of checkpoint_every
// entries a checkpoint of exactly that size is signed and stored in the same
// transaction.
//
// A log whose stored tail is damaged still opens (so that verify() can say
// what is wrong) but refuses every append: fail closed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/merkle.h"
#include "common/clock.h"
#include "common/result.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace medvault::audit {

inline constexpr uint64_t kDefaultCheckpointEvery = 1000;

struct LogKeys {
  crypto::SecretKey mac;        // SubKey::audit_mac
  crypto::SecretKey detail;     // SubKey::audit_detail
  crypto::SecretKey signing;    // SubKey::audit_signing: Ed25519 seed
};

struct LogOptions {
  std::string origin;  // "medvault.local/<vault-id>": checkpoint origin and key name
  uint64_t checkpoint_every = kDefaultCheckpointEvery;  // 0: only on demand
  const Clock* clock = &SystemClock::instance();        // checkpoint times
};

struct VerifyOptions {
  // A signed checkpoint exported earlier (witness copy): the log must extend
  // it (same first `size` entries), else it was truncated or rolled back.
  std::optional<std::string> witness_note;
};

struct VerifyReport {
  uint64_t entries = 0;
  std::string chain_head_hex;  // last chain value
  std::string root_hex;        // Merkle root of all entries
  uint64_t checkpoints = 0;    // stored checkpoints checked
  std::optional<uint64_t> witness_size;  // size of the witness checkpoint, if given
};

struct InclusionProof {
  uint64_t index = 0;      // 0-based leaf index (entry seq - 1)
  uint64_t size = 0;       // tree size
  merkle::Hash leaf{};
  merkle::Hash root{};
  std::vector<merkle::Hash> path;
};

struct ConsistencyProof {
  uint64_t old_size = 0, size = 0;
  merkle::Hash old_root{}, root{};
  std::vector<merkle::Hash> path;
};

class Log {
 public:
  // Loads the head of the chain and restores the tree: from the frontier of
  // the last stored checkpoint when its signature and root check out, then
  // one pass over the leaf hashes stored after it (else over all of them).
  static Result<std::unique_ptr<Log>> open(store::Store& store, LogKeys keys, LogOptions options);

  // Appends inside `txn`; the caller must call after_commit(ok) once the
  // transaction has committed (true) or been abandoned (false). REQUIRES: txn
  // holds the store's writer lock (every store Transaction does).
  Status add(store::Transaction& txn, std::vector<Entry> entries);
  void after_commit(bool committed);

  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Durable append with group commit. Errc::unavailable if the log cannot be
  // written (the caller must then refuse the request: fail closed). The
  // entries of one call are consecutive in the log.
  Status append(Entry entry);
  Status append(std::vector<Entry> entries);

  // Queues the entries for the writer thread and returns at once. `done`
  // runs exactly once, on the writer thread, after the batch holding them
  // committed (ok) or failed (Errc::unavailable); it must be quick and must
  // not append. Pending entries are written before the Log is destroyed.
  // Either way `done` is told ok only once the entries and every store
  // transaction committed before the call are on disk: with no entries, it
  // waits for that alone (a write committed with commit_unsynced()), sharing
  // the fsync of the batch written meanwhile.
  using Done = std::function<void(Status)>;
  void append_async(std::vector<Entry> entries, Done done);

  // Signs a checkpoint of the log as it is now (on demand), stores it and
  // returns the signed note.
  Result<std::string> checkpoint();
  // The checkpoint verifier key, "<origin>+<key id>+<base64 key>".
  std::string verifier_key() const;
  const std::string& origin() const { return opt_.origin; }

  // Recomputes every leaf hash, checks each entry's indexed columns against
  // its bytes, the MAC chain, the tree, and every stored checkpoint's
  // signature and root (and the witness's). Errc::integrity naming the first
  // bad sequence number ("audit entry 1234: ...") or the bad checkpoint.
  Result<VerifyReport> verify(const VerifyOptions& options = {});

  // Proofs over the stored log; size 0 means the current size.
  // Errc::invalid for an index or size out of range.
  Result<InclusionProof> prove_inclusion(uint64_t seq, uint64_t size = 0);
  Result<ConsistencyProof> prove_consistency(uint64_t old_size, uint64_t size = 0);

  // Visits the parsed entries from `first_seq` on, in order (for the FHIR
  // export); details stay sealed (open_detail). Stops early if fn is false.
  Status for_each(uint64_t first_seq, const std::function<bool(uint64_t seq, const Entry&)>& fn);

  // Decrypts an entry's detail field (for the privacy officer's viewer).
  Result<std::string> open_detail(const std::string& sealed_b64) const;

  uint64_t size() const;

 private:
  Log(store::Store& store, LogKeys keys, LogOptions options);
  Status write_batch(std::vector<Entry> batch);
  // add() of entries whose detail is already sealed (entries read back).
  Status add(store::Transaction& txn, std::vector<Entry> entries, bool sealed);
  Status recover_orphans();
  Status restore_tree(uint64_t n);
  // Entries another process appended (a CLI command while the server runs)
  // since this Log last wrote: verifies their MAC chain and advances the
  // head, tree included. REQUIRES head_mu_ and the store's writer lock.
  Status catch_up_locked();
  Result<store::AuditCheckpointRow> sign(const merkle::Tree& tree) const;
  Result<merkle::Hash> root_at(uint64_t size);
  merkle::LeafReader leaf_reader();

  store::Store& store_;
  crypto::SecretKey mac_key_;
  crypto::SecretKey detail_key_;
  crypto::SecretKey signing_seed_;
  LogOptions opt_;
  VerifierKey vkey_;

  // Head of the committed log, and the head staged by the transaction in
  // progress (only one at a time: the store serialises writers).
  mutable std::mutex head_mu_;
  uint64_t seq_ = 0;
  std::string chain_;  // 32 bytes; all zero for the empty log
  merkle::Tree tree_;
  std::string damaged_;  // why appends are refused; empty when healthy
  uint64_t staged_seq_ = 0;
  std::string staged_chain_;
  merkle::Tree staged_tree_;
  bool staged_ = false;
  const store::Transaction* staged_txn_ = nullptr;

  // Group commit: requests queue while the writer thread writes the previous
  // batch; it then takes the whole queue (up to kMaxBatch entries) as one
  // transaction. Started by the first append.
  struct Pending {
    std::vector<Entry> entries;
    Done done;
  };
  void writer_loop();
  Status sync_store();
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace medvault::audit
