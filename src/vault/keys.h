// Key management inside the vault: the current key-encryption key (KEK) and
// the per-patient data keys (DEKs) it wraps, cached unwrapped in locked
// memory. Internal to the vault module.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace medvault::vault {

using KeyPtr = std::shared_ptr<const crypto::SecretKey>;

class KeyManager {
 public:
  // Loads and unwraps the KEKs. Errc::integrity if they do not unwrap with
  // this master key (the seal belongs to another store).
  static Result<std::unique_ptr<KeyManager>> open(store::Store& store, const std::string& vault_id,
                                                  crypto::SecretKey kek_wrap_key);

  // Creates KEK version 1 inside the init transaction.
  static Status create_first_kek(store::Transaction& txn, const std::string& vault_id,
                                 const crypto::SecretKey& kek_wrap_key, int64_t now_ms);

  // Data keys created by one write transaction; they join the cache only once
  // the transaction has committed (so a rolled-back transaction leaves no
  // dangling key id behind).
  class Staging {
   public:
    explicit Staging(KeyManager& km) : km_(km) {}
    // The data key of a compartment, creating it (inside txn) if needed.
    Result<std::pair<uint64_t, KeyPtr>> dek_for(store::Transaction& txn,
                                                const std::string& compartment);
    void commit();  // call after the transaction committed

   private:
    KeyManager& km_;
    std::unordered_map<std::string, std::pair<uint64_t, KeyPtr>> created_;
  };

  // The data key with this id, for reading. Errc::integrity if it cannot be
  // unwrapped.
  Result<KeyPtr> dek(uint64_t key_id);

  // New KEK, every DEK re-wrapped under it, older KEKs deleted: all inside
  // txn. Call finish_rotation(true) after commit.
  Result<uint32_t> rotate(store::Transaction& txn, int64_t now_ms);
  void finish_rotation(bool committed);

  uint32_t kek_version() const;

 private:
  KeyManager(store::Store& store, std::string vault_id, crypto::SecretKey kek_wrap_key)
      : store_(store), vault_id_(std::move(vault_id)), kek_wrap_(std::move(kek_wrap_key)) {}
  // Installs the store's newest KEK if another process rotated it.
  Status refresh_kek();
  static std::string kek_ad(const std::string& vault_id, uint32_t version);
  static std::string dek_ad(const std::string& compartment, uint32_t kek_version);

  store::Store& store_;
  const std::string vault_id_;
  const crypto::SecretKey kek_wrap_;

  mutable std::shared_mutex mu_;
  uint32_t kek_version_ = 0;
  KeyPtr kek_;
  std::unordered_map<std::string, std::pair<uint64_t, KeyPtr>> by_compartment_;
  std::unordered_map<uint64_t, KeyPtr> by_id_;

  // During a rotation: the new KEK, installed by finish_rotation(true).
  uint32_t pending_version_ = 0;
  KeyPtr pending_kek_;
};

}  // namespace medvault::vault
