// Staff, patient and service accounts, and the bearer tokens of API clients.
// Tokens are 256-bit random values shown once; only their keyed hash is
// stored. Every change and every failed authentication is audited.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "access/policy.h"
#include "common/result.h"
#include "vault/repository.h"

namespace medvault::vault {

struct AccountInfo {
  std::string username;
  std::string role;
  std::vector<std::string> scopes;
  bool disabled = false;
  int64_t created_ms = 0;
};

struct IssuedToken {
  std::string token;    // "mvt_" + base64url of 32 random bytes; shown once
  std::string token_id; // short public id (first bytes of the hash) for revocation
  int64_t expires_ms = 0;
};

class Accounts {
 public:
  virtual ~Accounts() = default;

  // Errc::conflict if the user exists; Errc::invalid for an unknown role or
  // a bad user name ([a-z0-9._-]{1,64}).
  virtual Status add_user(const RequestContext& ctx, const std::string& username,
                          const std::string& role, const std::vector<std::string>& scopes) = 0;
  virtual Result<std::vector<AccountInfo>> list_users(const RequestContext& ctx) = 0;
  virtual Status set_disabled(const RequestContext& ctx, const std::string& username,
                              bool disabled) = 0;

  virtual Result<IssuedToken> issue_token(const RequestContext& ctx, const std::string& username,
                                          int64_t ttl_ms) = 0;
  virtual Status revoke_token(const RequestContext& ctx, const std::string& token_id) = 0;
  // Revokes every token and session of the user.
  virtual Status revoke_all(const RequestContext& ctx, const std::string& username) = 0;

  // Errc::unauthenticated for an unknown, expired, revoked or malformed token,
  // or a disabled account; one generic message, the precise reason goes to the
  // audit entry only.
  virtual Result<access::Subject> authenticate_bearer(std::string_view token,
                                                      const std::string& address) = 0;
};

}  // namespace medvault::vault
