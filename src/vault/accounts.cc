#include "vault/accounts.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <unordered_map>
#include <boost/json.hpp>

#include "access/facts.h"
#include "common/clock.h"
#include "fhir/resource.h"
#include "vault/access_facts.h"
#include "vault/account_data.h"
#include "vault/core.h"

namespace medvault::vault {
namespace {

constexpr std::array<std::string_view, 8> kRoles = {
    "physician", "nurse", "reception", "manager", "it-admin", "auditor", "patient", "service"};
constexpr std::string_view kTokenPrefix = "mvt_";

bool valid_username(const std::string& u) {
  if (u.empty() || u.size() > 64) return false;
  for (char c : u)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

class AccountsImpl final : public Accounts {
 public:
  explicit AccountsImpl(Core& c) : c_(c) {}

  Status add_user(const RequestContext& ctx, const std::string& username, const std::string& role,
                  const std::vector<std::string>& scopes) override {
    if (!valid_username(username))
      return make_error(Errc::invalid, "invalid user name: use 1 to 64 of a-z 0-9 . _ -");
    if (std::find(kRoles.begin(), kRoles.end(), role) == kRoles.end())
      return make_error(Errc::invalid, "unknown role \"" + role +
                                           "\": physician, nurse, reception, manager, it-admin, "
                                           "auditor, patient or service");
    MV_TRY(require_admin(ctx));
    MV_ASSIGN(auto existing, c_.store->account(username));
    if (existing) return make_error(Errc::conflict, "user " + username + " already exists");
    AccountInfo a;
    a.username = username;
    a.role = role;
    a.scopes = scopes;
    a.created_ms = c_.clock->now_ms();
    auto e = c_.entry(ctx, "user-add");
    e.detail = username + " role " + role;
    return write(e, [&](store::Transaction& t) {
      return t.put_account({username, role, merge_profile(a, "{}"), a.created_ms});
    });
  }

  Result<std::vector<AccountInfo>> list_users(const RequestContext& ctx) override {
    MV_TRY(require_admin(ctx));
    MV_ASSIGN(auto rows, c_.store->accounts());
    std::vector<AccountInfo> out;
    for (const auto& r : rows) out.push_back(info_of(r));
    return out;
  }

  Status set_access(const RequestContext& ctx, const std::string& username, const AccessLink& link) override {
    MV_TRY(require_admin(ctx));
    for (const auto* id : {&link.practitioner, &link.organization, &link.patient})
      if (!id->empty() && !fhir::is_valid_id(*id)) return make_error(Errc::invalid, "invalid resource id");
    for (const auto& g : link.grants)
      if (g != "*" && !access::is_restricted_label(g))
        return make_error(Errc::invalid, "unknown grant \"" + g + "\": R, V, BH, PSY, PSYTHPN, ETH, SUD, HIV, STD, SEX, SDV, GDIS, TBOO or *");
    MV_ASSIGN(auto row, c_.store->account(username));
    if (!row) return make_error(Errc::not_found, "no user " + username);
    auto a = info_of(*row);
    a.access = link;
    auto e = c_.entry(ctx, "user-access");
    e.detail = username;
    return write(e, [&](store::Transaction& t) {
      return t.put_account({username, row->role, merge_profile(a, row->data), row->created_ms});
    });
  }

  Result<std::string> enroll_step_up(const RequestContext& ctx, const std::string& username) override {
    MV_TRY(require_admin(ctx));
    return vault::enroll_step_up(c_, ctx, username);
  }

  Status set_disabled(const RequestContext& ctx, const std::string& username,
                      bool disabled) override {
    MV_TRY(require_admin(ctx));
    MV_ASSIGN(auto row, c_.store->account(username));
    if (!row) return make_error(Errc::not_found, "no user " + username);
    auto a = info_of(*row);
    a.disabled = disabled;
    auto e = c_.entry(ctx, disabled ? "user-disable" : "user-enable");
    e.detail = username;
    return write(e, [&](store::Transaction& t) -> Status {
      MV_TRY(t.put_account({username, row->role, merge_profile(a, row->data), row->created_ms}));
      if (disabled) MV_TRY(t.revoke_tokens(username, ""));
      return ok_status();
    });
  }

  Status set_role(const RequestContext& ctx, const std::string& username, const std::string& role) override {
    if (!access::is_staff_role(role))
      return make_error(Errc::invalid, "unknown staff role \"" + role +
                                           "\": physician, nurse, reception, manager, it-admin or auditor");
    MV_TRY(require_admin(ctx));
    if (username == ctx.subject.user)
      return make_error(Errc::conflict, "administrators do not change their own role: ask another administrator");
    MV_ASSIGN(auto row, c_.store->account(username));
    if (!row) return make_error(Errc::not_found, "no user " + username);
    if (!access::is_staff_role(row->role)) return make_error(Errc::conflict, username + " is a " + row->role + " account, not staff");
    if (row->role == role) return ok_status();
    auto a = info_of(*row);
    a.role = role;
    auto e = c_.entry(ctx, "user-role");
    e.detail = username + " role " + row->role + " -> " + role;
    return write(e, [&](store::Transaction& t) -> Status {
      MV_TRY(t.put_account({username, role, merge_profile(a, row->data), row->created_ms}));
      MV_TRY(t.revoke_tokens(username, ""));
      return ok_status();
    });
  }

  Status set_expiry(const RequestContext& ctx, const std::string& username, int64_t expires_ms) override {
    MV_TRY(require_admin(ctx));
    MV_ASSIGN(auto row, c_.store->account(username));
    if (!row) return make_error(Errc::not_found, "no user " + username);
    auto a = info_of(*row);
    a.expires_ms = expires_ms;
    auto e = c_.entry(ctx, "user-expiry");
    e.detail = username + (expires_ms ? " until " + format_instant(expires_ms) : " no expiry");
    return write(e, [&](store::Transaction& t) {
      return t.put_account({username, row->role, merge_profile(a, row->data), row->created_ms});
    });
  }

  Result<IssuedToken> issue_token(const RequestContext& ctx, const std::string& username,
                                  int64_t ttl_ms) override {
    MV_TRY(require_admin(ctx));
    if (ttl_ms <= 0) return make_error(Errc::invalid, "token lifetime must be positive");
    MV_ASSIGN(auto row, c_.store->account(username));
    if (!row) return make_error(Errc::not_found, "no user " + username);
    if (info_of(*row).disabled) return make_error(Errc::forbidden, "user " + username + " is disabled");
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    std::string b64(sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(b64.data(), b64.size(), raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    b64.pop_back();
    sodium_memzero(raw, sizeof raw);
    IssuedToken t;
    t.token = std::string(kTokenPrefix) + b64;
    const std::string h = c_.hash_token(t.token);
    t.token_id = hex(std::string_view(h).substr(0, 6));
    const int64_t now = c_.clock->now_ms();
    t.expires_ms = now + ttl_ms;
    auto e = c_.entry(ctx, "token-issue");
    e.detail = username + " token " + t.token_id;
    MV_TRY(write(e, [&](store::Transaction& tx) {
      return tx.put_token({h, t.token_id, username, "api", now, t.expires_ms, 0, false});
    }));
    return t;
  }

  Status revoke_token(const RequestContext& ctx, const std::string& token_id) override {
    MV_TRY(require_admin(ctx));
    auto e = c_.entry(ctx, "token-revoke");
    e.detail = "token " + token_id;
    uint64_t n = 0;
    MV_TRY(write(e, [&](store::Transaction& t) -> Status {
      MV_ASSIGN(n, t.revoke_tokens("", token_id));
      return ok_status();
    }));
    if (n == 0) return make_error(Errc::not_found, "no active token " + token_id);
    return ok_status();
  }

  Status revoke_all(const RequestContext& ctx, const std::string& username) override {
    MV_TRY(require_admin(ctx));
    auto e = c_.entry(ctx, "token-revoke-all");
    e.detail = username;
    return write(e, [&](store::Transaction& t) -> Status {
      MV_ASSIGN(auto n, t.revoke_tokens(username, ""));
      (void)n;
      return ok_status();
    });
  }

  Result<access::Subject> authenticate_bearer(std::string_view token,
                                              const std::string& address) override {
    const Error generic = make_error(Errc::unauthenticated, "invalid or expired token");
    std::string reason;
    std::string user;
    if (token.empty()) {
      reason = "no bearer token";
    } else if (token.size() != kTokenPrefix.size() + 43 || token.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
      reason = "malformed token";
    } else {
      const std::string hash = c_.hash_token(token);
      // Read before the rows: what is cached is at least as new as it.
      MV_ASSIGN(auto generation, c_.store->meta(store::kAuthGeneration));
      const std::string gen = generation.value_or("");
      const int64_t now = c_.clock->now_ms();
      {
        std::lock_guard<std::mutex> lock(verified_mu_);
        if (auto it = verified_.find(hash); it != verified_.end() && it->second.generation == gen && now < it->second.until_ms)
          return it->second.subject;
      }
      MV_ASSIGN(auto row, c_.store->token(hash));
      if (!row) {
        reason = "unknown token";
      } else {
        user = row->username;
        if (row->revoked) reason = "revoked token " + row->token_id;
        else if (row->expires_ms <= now) reason = "expired token " + row->token_id;
        else {
          MV_ASSIGN(auto acct, c_.store->account(row->username));
          if (!acct) reason = "token of a removed account";
          else {
            auto a = info_of(*acct);
            if (a.disabled) reason = "disabled account";
            else if (a.expires_ms && a.expires_ms <= now) reason = "expired account";
            else {
              auto subject = subject_of(a);
              std::lock_guard<std::mutex> lock(verified_mu_);
              if (verified_.size() >= kMaxVerified) verified_.clear();
              verified_[hash] = {gen, subject, a.expires_ms ? std::min(row->expires_ms, a.expires_ms) : row->expires_ms};
              return subject;
            }
          }
        }
      }
    }
    return c_.refuse_credential(user, address, reason, generic);
  }

 private:
  // Accounts and tokens are managed by the local administrator (the CLI,
  // holding the unsealed vault) and, once the web console exists, by
  // it-admin.
  static Status require_admin(const RequestContext& ctx) {
    if (ctx.subject.role == "system" || ctx.subject.role == "it-admin") return ok_status();
    return make_error(Errc::forbidden, "only an administrator manages accounts");
  }


  template <typename Fn>
  Status write(audit::Entry e, Fn&& fn) {
    MV_ASSIGN(auto txn, c_.store->begin());
    Status st = fn(*txn);
    if (st.ok()) st = c_.audit->add(*txn, {std::move(e)});
    if (st.ok()) st = txn->commit();
    c_.audit->after_commit(st.ok());
    return st;
  }

  Core& c_;
  // Bearer tokens verified, by keyed hash: valid while meta kAuthGeneration
  // keeps the value it had (every account or token change, by any process or
  // node, gives it a new one: store.h) and until the token or the account
  // expires. A read costs one meta lookup instead of the token and account
  // rows and the account's JSON. Refusals are not kept.
  struct Verified {
    std::string generation;
    access::Subject subject;
    int64_t until_ms = 0;
  };
  static constexpr size_t kMaxVerified = 4096;
  std::mutex verified_mu_;
  std::unordered_map<std::string, Verified> verified_;  // guarded by verified_mu_
};

}  // namespace

std::unique_ptr<Accounts> make_accounts(Core& core) { return std::make_unique<AccountsImpl>(core); }

}  // namespace medvault::vault
