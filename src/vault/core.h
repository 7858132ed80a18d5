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
#include "vault/sessions.h"
#include "vault/vault.h"

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
  Sessions* sessions = nullptr;  // owned by the Vault; step-up uses the login TOTP

  // An audit entry pre-filled from the request context.
  audit::Entry entry(const RequestContext& ctx, std::string_view action) const;
  // Keyed BLAKE2b-256 of a bearer token or session cookie (what is stored).
  std::string hash_token(std::string_view token) const;
  // Audits a refused credential ("authenticate", outcome 4, the reason in
  // the encrypted detail) and returns `refusal`, or Errc::unavailable when
  // the entry cannot be written (fail closed).
  Error refuse_credential(const std::string& user, const std::string& address, std::string reason,
                          Error refusal) const;
};

std::unique_ptr<Repository> make_repository(Core& core);
std::unique_ptr<Accounts> make_accounts(Core& core);
std::unique_ptr<Sessions> make_sessions(Core& core);
Result<std::vector<AuditRecord>> query_audit(Core& core, const RequestContext& ctx, const AuditQuery& q);

}  // namespace medvault::vault
