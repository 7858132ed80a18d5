#include "vault/keys.h"

#include <mutex>

#include "crypto/aead.h"

namespace medvault::vault {

std::string KeyManager::kek_ad(const std::string& vault_id, uint32_t version) {
  std::string ad = "medvault-kek-v1";
  ad += '\0';
  ad += vault_id;
  ad += '\0';
  ad += std::to_string(version);
  return ad;
}

std::string KeyManager::dek_ad(const std::string& compartment, uint32_t kek_version) {
  std::string ad = "medvault-dek-v1";
  ad += '\0';
  ad += compartment;
  ad += '\0';
  ad += std::to_string(kek_version);
  return ad;
}

Status KeyManager::create_first_kek(store::Transaction& txn, const std::string& vault_id,
                                    const crypto::SecretKey& kek_wrap_key, int64_t now_ms) {
  auto kek = crypto::SecretKey::random();
  return txn.put_kek({1, crypto::wrap_key(kek_wrap_key, kek_ad(vault_id, 1), kek), now_ms});
}

Result<std::unique_ptr<KeyManager>> KeyManager::open(store::Store& store,
                                                     const std::string& vault_id,
                                                     crypto::SecretKey kek_wrap_key) {
  std::unique_ptr<KeyManager> km(new KeyManager(store, vault_id, std::move(kek_wrap_key)));
  MV_ASSIGN(auto keks, store.keks());
  if (keks.empty()) return make_error(Errc::integrity, "the store has no key-encryption key");
  // Only the newest KEK is in use; a rotation deletes the others in the same
  // transaction, so more than one means an interrupted manual edit.
  const auto& newest = keks.back();
  auto kek = crypto::unwrap_key(km->kek_wrap_, kek_ad(vault_id, newest.version), newest.wrapped);
  if (!kek.ok())
    return make_error(Errc::integrity, "key-encryption key " + std::to_string(newest.version) +
                                           " does not unwrap: this master key does not belong "
                                           "to this store, or the key table was altered");
  km->kek_version_ = newest.version;
  km->kek_ = std::make_shared<const crypto::SecretKey>(std::move(kek).value());
  return km;
}

Status KeyManager::refresh_kek() {
  MV_ASSIGN(auto keks, store_.keks());
  if (keks.empty()) return make_error(Errc::integrity, "the store has no key-encryption key");
  const auto& newest = keks.back();
  if (newest.version == kek_version()) return ok_status();
  auto kek = crypto::unwrap_key(kek_wrap_, kek_ad(vault_id_, newest.version), newest.wrapped);
  if (!kek.ok())
    return make_error(Errc::integrity, "key-encryption key " + std::to_string(newest.version) + " does not unwrap");
  std::unique_lock<std::shared_mutex> lock(mu_);
  kek_version_ = newest.version;
  kek_ = std::make_shared<const crypto::SecretKey>(std::move(kek).value());
  return ok_status();
}

uint32_t KeyManager::kek_version() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return kek_version_;
}

Result<std::pair<uint64_t, KeyPtr>> KeyManager::Staging::dek_for(store::Transaction& txn,
                                                                 const std::string& compartment) {
  {
    std::shared_lock<std::shared_mutex> lock(km_.mu_);
    auto it = km_.by_compartment_.find(compartment);
    if (it != km_.by_compartment_.end()) return it->second;
  }
  if (auto it = created_.find(compartment); it != created_.end()) return it->second;

  // Not cached: it may exist in the store already (written by an earlier
  // process), else create it.
  MV_ASSIGN(auto row, km_.store_.dek_for(compartment));
  if (row) {
    MV_ASSIGN(KeyPtr k, km_.dek(row->key_id));
    return std::make_pair(row->key_id, k);
  }
  // A new key must be wrapped by the live KEK, even if another process
  // (medvault key rotate) replaced it while this one ran.
  MV_TRY(km_.refresh_kek());
  uint32_t kv;
  KeyPtr kek;
  {
    std::shared_lock<std::shared_mutex> lock(km_.mu_);
    kv = km_.kek_version_;
    kek = km_.kek_;
  }
  auto dek = std::make_shared<const crypto::SecretKey>(crypto::SecretKey::random());
  MV_ASSIGN(uint64_t key_id,
            txn.put_dek({0, compartment, kv, crypto::wrap_key(*kek, dek_ad(compartment, kv), *dek)}));
  auto entry = std::make_pair(key_id, KeyPtr(dek));
  created_.emplace(compartment, entry);
  return entry;
}

void KeyManager::Staging::commit() {
  std::unique_lock<std::shared_mutex> lock(km_.mu_);
  for (auto& [compartment, entry] : created_) {
    km_.by_compartment_.emplace(compartment, entry);
    km_.by_id_.emplace(entry.first, entry.second);
  }
  created_.clear();
}

Result<KeyPtr> KeyManager::dek(uint64_t key_id) {
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = by_id_.find(key_id);
    if (it != by_id_.end()) return it->second;
  }
  MV_ASSIGN(auto row, store_.dek(key_id));
  if (!row) return make_error(Errc::integrity, "data key " + std::to_string(key_id) + " is missing");
  if (row->kek_version != kek_version()) MV_TRY(refresh_kek());
  KeyPtr kek;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (row->kek_version != kek_version_)
      return make_error(Errc::integrity, "data key " + std::to_string(key_id) +
                                             " is wrapped by retired key-encryption key " +
                                             std::to_string(row->kek_version));
    kek = kek_;
  }
  auto dek = crypto::unwrap_key(*kek, dek_ad(row->compartment, row->kek_version), row->wrapped);
  if (!dek.ok())
    return make_error(Errc::integrity,
                      "data key " + std::to_string(key_id) + " does not unwrap (altered)");
  auto k = std::make_shared<const crypto::SecretKey>(std::move(dek).value());
  std::unique_lock<std::shared_mutex> lock(mu_);
  by_id_.emplace(key_id, k);
  by_compartment_.emplace(row->compartment, std::make_pair(key_id, k));
  return k;
}

Result<uint32_t> KeyManager::rotate(store::Transaction& txn, int64_t now_ms) {
  uint32_t old_version;
  KeyPtr old_kek;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    old_version = kek_version_;
    old_kek = kek_;
  }
  const uint32_t nv = old_version + 1;
  auto fresh = std::make_shared<const crypto::SecretKey>(crypto::SecretKey::random());
  MV_TRY(txn.put_kek({nv, crypto::wrap_key(kek_wrap_, kek_ad(vault_id_, nv), *fresh), now_ms}));
  MV_ASSIGN(auto deks, store_.deks());
  for (const auto& row : deks) {
    auto dek = crypto::unwrap_key(*old_kek, dek_ad(row.compartment, row.kek_version), row.wrapped);
    if (!dek.ok() || row.kek_version != old_version)
      return make_error(Errc::integrity, "data key " + std::to_string(row.key_id) +
                                             " does not unwrap; rotation abandoned");
    MV_TRY(txn.rewrap_dek(row.key_id, nv,
                          crypto::wrap_key(*fresh, dek_ad(row.compartment, nv), *dek)));
  }
  MV_ASSIGN(auto keks, store_.keks());
  for (const auto& k : keks) MV_TRY(txn.delete_kek(k.version));
  std::unique_lock<std::shared_mutex> lock(mu_);
  pending_version_ = nv;
  pending_kek_ = fresh;
  return nv;
}

void KeyManager::finish_rotation(bool committed) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (committed && pending_kek_) {
    kek_version_ = pending_version_;
    kek_ = pending_kek_;
  }
  pending_kek_.reset();
  pending_version_ = 0;
}

}  // namespace medvault::vault
