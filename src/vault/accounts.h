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

// What links an account to the records, for the access policy
// (docs/access-policy.md): the Practitioner it acts as, an outside
// Organization, the Patient of a portal account, sensitivity grants.
struct AccessLink {
  std::string practitioner;  // Practitioner id (not a reference)
  std::string organization;  // Organization id
  std::string patient;       // Patient id of a `patient` account
  std::vector<std::string> grants;  // R, V, PSY, HIV, ... or *
};

struct AccountInfo {
  std::string username;
  std::string role;
  std::vector<std::string> scopes;
  bool disabled = false;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;  // the account stops working then (0: never)
  // Which factors the account has (read-only here; Sessions manages them).
  bool has_password = false, has_totp = false;
  int passkeys = 0, certificates = 0;
  AccessLink access;
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
  // Sets what links the account to the records (administrator only; audited).
  // Errc::invalid for ids that are not FHIR ids or unknown grant codes.
  virtual Status set_access(const RequestContext& ctx, const std::string& username, const AccessLink& link) {
    (void)ctx, (void)username, (void)link;
    return make_error(Errc::internal, "not available");
  }
  // Enrols a TOTP authenticator for step-up authentication (break-the-glass)
  // and returns its secret in base32, shown once (administrator only; audited).
  virtual Result<std::string> enroll_step_up(const RequestContext& ctx, const std::string& username) {
    (void)ctx, (void)username;
    return make_error(Errc::internal, "not available");
  }
  virtual Status set_disabled(const RequestContext& ctx, const std::string& username,
                              bool disabled) = 0;
  // Sets the date after which the account cannot sign in or use its tokens
  // (0: never). Audited.
  // Moves a staff account to another staff role (physician, nurse,
  // reception, manager, it-admin, auditor); its sessions and tokens end, so
  // the new rights apply from the next sign-in. Not one's own role (another
  // administrator does that); patient and service accounts keep theirs.
  // Administrator only; audited.
  virtual Status set_role(const RequestContext& ctx, const std::string& username, const std::string& role) {
    (void)ctx, (void)username, (void)role;
    return make_error(Errc::invalid, "roles cannot be changed here");
  }
  virtual Status set_expiry(const RequestContext& ctx, const std::string& username, int64_t expires_ms) {
    (void)ctx, (void)username, (void)expires_ms;
    return make_error(Errc::internal, "not available");
  }

  virtual Result<IssuedToken> issue_token(const RequestContext& ctx, const std::string& username,
                                          int64_t ttl_ms) = 0;
  virtual Status revoke_token(const RequestContext& ctx, const std::string& token_id) = 0;
  // Revokes every token and session of the user.
  virtual Status revoke_all(const RequestContext& ctx, const std::string& username) = 0;

  // Errc::unauthenticated for an absent (empty), unknown, expired, revoked or
  // malformed token, or a disabled account; one generic message, the precise reason goes to the
  // audit entry only.
  virtual Result<access::Subject> authenticate_bearer(std::string_view token,
                                                      const std::string& address) = 0;
};

}  // namespace medvault::vault
