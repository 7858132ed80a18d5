// What the vault's services share: the store, the keys, the audit log, the
// policy and the clock. Internal to the vault module; no other module sees a
// Core, so nothing outside vault/ can reach the store.
#pragma once

#include <memory>
#include <string>

#include "access/policy.h"
#include "audit/log.h"
#include "common/clock.h"
#include "crypto/blind_index.h"
#include "crypto/secret.h"
#include "store/store.h"
#include "vault/keys.h"
#include "vault/accounts.h"
#include "vault/repository.h"

namespace medvault::vault {

struct Core {
  std::string vault_id;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<KeyManager> keys;
  std::unique_ptr<audit::Log> audit;
  std::unique_ptr<access::Policy> policy;
  std::unique_ptr<crypto::BlindIndexer> indexer;
  crypto::SecretKey session_key;  // keyed hashing of tokens
  const Clock* clock = nullptr;

  // An audit entry pre-filled from the request context.
  audit::Entry entry(const RequestContext& ctx, std::string_view action) const;
};

std::unique_ptr<Repository> make_repository(Core& core);
std::unique_ptr<Accounts> make_accounts(Core& core);

}  // namespace medvault::vault
