// Signing in and sessions (vault/sessions.h, docs/auth-api.md,
// docs/formats/auth.md).
#include "vault/sessions.h"

#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <atomic>

#include "auth/password.h"
#include "auth/recovery_codes.h"
#include "auth/totp.h"
#include "auth/webauthn.h"
#include "crypto/aead.h"
#include "vault/account_data.h"
#include "vault/core.h"

namespace medvault::vault {
namespace {

namespace bj = boost::json;
namespace wa = auth::webauthn;

constexpr std::string_view kSessionPrefix = "mvs_";
constexpr int64_t kCeremonyMs = 5 * 60 * 1000;
constexpr int64_t kStepUpTokenMs = 2 * 60 * 1000;
constexpr std::string_view kStepUpTokenKey = "step-up-token/";  // + hex of the token's keyed hash
constexpr int64_t kCounterForgetMs = 12 * 60 * 60 * 1000;
constexpr int64_t kMaxWaitMs = 15 * 60 * 1000;
constexpr int kMaxPasskeys = 20;
constexpr int kMaxCertificates = 10;

// The three guessing counters of docs/auth-api.md.
struct CounterKind {
  std::string_view name;
  int free;  // failures before the first wait
};
constexpr CounterKind kAccountAddress{"account+address", 5};
constexpr CounterKind kAddress{"address", 20};
constexpr CounterKind kAccount{"account", 50};

struct Counter {
  const CounterKind* kind = nullptr;
  std::string key;  // meta key
  int64_t n = 0, last_ms = 0;
  bool flagged = false;

  int64_t wait_ms() const {
    if (n < kind->free) return 0;
    const int64_t doublings = std::min<int64_t>(n - kind->free, 20);
    return std::min<int64_t>(int64_t{1000} << doublings, kMaxWaitMs);
  }
  int64_t blocked_until() const { return wait_ms() ? last_ms + wait_ms() : 0; }
};

std::string random_b64url(size_t n) {
  std::string raw(n, '\0');
  randombytes_buf(raw.data(), raw.size());
  auto out = wa::base64url_encode(raw);
  sodium_memzero(raw.data(), raw.size());
  return out;
}

std::string str(const bj::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
int64_t num(const bj::object& o, std::string_view k, int64_t dflt = 0) {
  const auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : dflt;
}
bj::array arr(const bj::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_array() ? v->as_array() : bj::array();
}

class SessionsImpl final : public Sessions {
 public:
  explicit SessionsImpl(Core& c) : c_(c) {
    uint8_t k[crypto::SecretKey::kSize];
    crypto_kdf_derive_from_key(k, sizeof k, 2, "mvlgtotp", c_.session_key.data());
    totp_key_ = crypto::SecretKey::from_bytes(k);
    sodium_memzero(k, sizeof k);
  }

  void configure(const SessionSettings& s) override { settings_ = s; }
  const SessionSettings& settings() const override { return settings_; }

  // ---------------------------------------------------------------- sign-in

  Result<SessionInfo> login_password(std::string_view username_in, std::string_view password,
                                     std::string_view code, SignIn& attempt) override {
    if (username_in.size() > 256 || password.size() > 4096 || code.size() > 64)
      return make_error(Errc::invalid, "user name, password or code too long");
    std::string username(username_in);
    std::transform(username.begin(), username.end(), username.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const int64_t now = c_.clock->now_ms();
    MV_ASSIGN(auto counters, load_counters(username, attempt.address, true));
    if (auto t = throttled(counters, now, attempt)) return refuse_throttled(counters, username, attempt, *t);
    // Count the attempt as a failure before checking it (a success undoes
    // it), re-reading the counters under the writer lock: concurrent
    // guesses cannot all pass a counter that has one free failure left.
    std::optional<int64_t> wait;
    MV_TRY(write([&](store::Transaction& txn, std::vector<audit::Entry>&) -> Status {
      MV_TRY(reload(counters));
      if ((wait = throttled(counters, now, attempt))) return ok_status();
      return count_failure(txn, counters, now);
    }));
    if (wait) return refuse_throttled(counters, username, attempt, *wait);

    // The same work for an unknown name as for a wrong password.
    MV_ASSIGN(auto row, c_.store->account(username));
    bj::object data = row ? data_object(row->data) : bj::object();
    const std::string hash = str(data, "password");
    bool password_ok = false;
    if (row && !hash.empty()) {
      auto v = auth::verify_password(hash, password);
      password_ok = v.ok() && *v;
    } else {
      (void)auth::verify_password_dummy(password);
    }
    std::string reason;
    if (!row) reason = "unknown user";
    else if (hash.empty()) reason = "no password set";
    else if (!password_ok) reason = "wrong password";
    else if (auto why = unusable(*row)) reason = *why;
    if (!reason.empty()) return refuse(counters, row ? username : "", username, attempt, reason, "password", true);

    // The second factor, checked and consumed inside the transaction that
    // creates the session (the writer lock makes it a compare-and-set).
    SessionInfo out;
    Status st = write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      MV_ASSIGN(auto fresh, c_.store->account(username));
      if (!fresh) return make_error(Errc::unauthenticated, "account removed");
      bj::object d = data_object(fresh->data);
      std::string method = "password";
      const bool has_totp = d.if_contains("totp") != nullptr;
      const bool has_second = has_totp || !arr(d, "passkeys").empty();
      if (has_totp && code.size() == 6) {
        auto& t = d["totp"].as_object();
        auto secret = open_totp(username, str(t, "secret"));
        if (!secret) return make_error(Errc::unauthenticated, "TOTP secret unreadable");
        auto step = auth::totp_verify(*secret, code, now / 1000, num(t, "last_step", -1));
        sodium_memzero(secret->data(), secret->size());
        if (!step) return make_error(Errc::unauthenticated, step.error().message);
        t["last_step"] = *step;
        method = "password+totp";
      } else if (has_second && !code.empty()) {
        std::vector<std::string> hashes;
        for (const auto& h : arr(d, "recovery"))
          if (h.is_string()) hashes.emplace_back(h.as_string());
        auto left = auth::consume_recovery_code(c_.session_key, code, hashes);
        if (!left) return make_error(Errc::unauthenticated, "wrong recovery code");
        bj::array a;
        for (auto& h : hashes) a.emplace_back(h);
        d["recovery"] = std::move(a);
        method = "password+recovery-code (" + std::to_string(*left) + " left)";
      } else if (has_second) {
        return make_error(Errc::unauthenticated, has_totp ? "missing or malformed code" : "passkey account: password alone is not enough");
      } else if (!mfa_required(fresh->role) && !code.empty()) {
        return make_error(Errc::unauthenticated, "code given but no second factor enrolled");
      }
      if (auth::password_needs_rehash(str(d, "password"))) {
        if (auto h = auth::hash_password(password)) d["password"] = *h;
      }
      MV_TRY(txn.put_account({fresh->username, fresh->role, bj::serialize(d), fresh->created_ms}));
      MV_ASSIGN(out, new_session(txn, *fresh, d, now));
      MV_TRY(reload(counters));
      MV_TRY(reset(txn, counters, /*counted=*/true));
      log.push_back(login_entry(info_of(*fresh), attempt.address, "0", method + "; session " + out.token_id));
      return ok_status();
    });
    if (st.ok()) return out;
    if (st.error().code != Errc::unauthenticated) return st.error();
    return refuse(counters, username, username, attempt, st.error().message, "password", true);
  }

  Result<Ceremony> passkey_login_begin(SignIn& attempt) override {
    const int64_t now = c_.clock->now_ms();
    MV_ASSIGN(auto counters, load_counters("", attempt.address, false));
    if (auto t = throttled(counters, now, attempt)) return refuse_throttled(counters, "", attempt, *t).error();
    return begin_ceremony("login", "", assertion_options({}), now);
  }

  Result<SessionInfo> passkey_login_finish(const PasskeyAssertion& a, SignIn& attempt) override {
    const int64_t now = c_.clock->now_ms();
    MV_ASSIGN(auto counters, load_counters("", attempt.address, false));
    if (auto t = throttled(counters, now, attempt)) return refuse_throttled(counters, "", attempt, *t).error();
    SessionInfo out;
    std::string user, reason;
    Errc code = Errc::unauthenticated;
    Status st = write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      auto fail = [&](Errc c, std::string why) -> Status {
        code = c;
        reason = std::move(why);
        MV_TRY(reload(counters));
        MV_TRY(count_failure(txn, counters, now));
        log.push_back(login_entry(named(user), attempt.address, "4", "passkey: " + reason));
        return ok_status();  // commit the consumed ceremony and the failure
      };
      auto ceremony = take_ceremony(txn, a.ceremony, "login", "", now);
      if (!ceremony) return fail(Errc::unauthenticated, ceremony.error().message);
      MV_ASSIGN(auto accounts, c_.store->accounts());
      const store::AccountRow* row = nullptr;
      bj::object d;
      size_t index = 0;
      for (const auto& r : accounts) {
        bj::object rd = data_object(r.data);
        auto keys = arr(rd, "passkeys");
        for (size_t i = 0; i < keys.size() && !row; ++i)
          if (keys[i].is_object() && str(keys[i].as_object(), "id") == wa::base64url_encode(a.credential_id)) {
            row = &r, d = std::move(rd), index = i;
          }
        if (row) break;
      }
      if (!row) return fail(Errc::unauthenticated, "unknown credential");
      user = row->username;
      if (!a.user_handle.empty() && wa::base64url_encode(a.user_handle) != str(d, "user_handle"))
        return fail(Errc::unauthenticated, "user handle does not match the credential");
      auto& entry = d["passkeys"].as_array()[index].as_object();
      if (auto ok = accept_assertion(entry, *ceremony, a, now); !ok.ok()) return fail(ok.error().code, ok.error().message);
      if (auto why = unusable(*row)) return fail(Errc::unauthenticated, *why);
      MV_TRY(txn.put_account({row->username, row->role, bj::serialize(d), row->created_ms}));
      MV_ASSIGN(out, new_session(txn, *row, d, now));
      log.push_back(login_entry(info_of(*row), attempt.address, "0",
                                "passkey " + str(entry, "label") + "; session " + out.token_id));
      return ok_status();
    });
    MV_TRY(st);
    if (!reason.empty()) {
      if (code == Errc::invalid) return make_error(Errc::invalid, "malformed passkey response");
      return make_error(Errc::unauthenticated, std::string(kSignInRefused));
    }
    return out;
  }

  Result<SessionInfo> certificate_login(std::string_view cert_sha256, SignIn& attempt) override {
    const int64_t now = c_.clock->now_ms();
    MV_ASSIGN(auto counters, load_counters("", attempt.address, false));
    if (auto t = throttled(counters, now, attempt)) return refuse_throttled(counters, "", attempt, *t).error();
    const store::AccountRow* row = nullptr;
    MV_ASSIGN(auto accounts, c_.store->accounts());
    if (!cert_sha256.empty())
      for (const auto& r : accounts) {
        for (const auto& h : arr(data_object(r.data), "certs"))
          if (h.is_string() && h.as_string() == cert_sha256) row = &r;
        if (row) break;
      }
    std::string reason = cert_sha256.empty() ? "no client certificate" : !row ? "certificate not mapped to an account" : "";
    if (row && reason.empty())
      if (auto why = unusable(*row)) reason = *why;
    if (!reason.empty()) return refuse(counters, row ? row->username : "", "", attempt, reason, "certificate");
    SessionInfo out;
    MV_TRY(write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      MV_ASSIGN(out, new_session(txn, *row, data_object(row->data), now, true));
      log.push_back(login_entry(info_of(*row), attempt.address, "0",
                                "certificate " + std::string(cert_sha256.substr(0, 16)) + "; session " + out.token_id));
      return ok_status();
    }));
    return out;
  }

  Result<SessionInfo> session(std::string_view token, const std::string& address) override {
    const int64_t now = c_.clock->now_ms();
    std::string reason, user;
    if (token.size() != kSessionPrefix.size() + 43 || !token.starts_with(kSessionPrefix)) {
      reason = "malformed session cookie";
    } else {
      const std::string h = c_.hash_token(token);
      MV_ASSIGN(auto row, c_.store->token(h));
      if (!row || !row->kind.starts_with("session")) reason = "unknown session";
      else {
        user = row->username;
        if (row->revoked) reason = "ended session " + row->token_id;
        else if (row->expires_ms <= now) reason = "expired session " + row->token_id;
        else if (now - row->last_used_ms >= settings_.idle_ms) reason = "idle session " + row->token_id;
        else {
          MV_ASSIGN(auto acct, c_.store->account(row->username));
          if (!acct) reason = "session of a removed account";
          else if (auto why = unusable(*acct)) reason = *why;
          else {
            // Refresh the last use, at most every idle/8 (a write per
            // request would serialise every reader on the writer lock).
            if (now - row->last_used_ms > std::min<int64_t>(settings_.idle_ms / 8, 60'000)) {
              row->last_used_ms = now;
              MV_TRY(write([&](store::Transaction& txn, std::vector<audit::Entry>&) { return txn.put_token(*row); }));
            }
            const bj::object d = data_object(acct->data);
            SessionInfo s = describe(*acct, d, row->expires_ms, row->kind == "session-cert");
            s.token_id = row->token_id;
            s.csrf = csrf_of(h);
            return s;
          }
        }
      }
    }
    return c_.refuse_credential(user, address, reason, make_error(Errc::unauthenticated, "session ended or unknown: sign in again"));
  }

  // -------------------------------------------------------- the signed-in user

  Status logout(const RequestContext& ctx, const std::string& token_id) override {
    return write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      MV_ASSIGN(auto n, txn.revoke_tokens("", token_id));
      (void)n;
      auto e = c_.entry(ctx, "logout");
      e.detail = "session " + token_id;
      log.push_back(std::move(e));
      return ok_status();
    });
  }

  Status logout_all(const RequestContext& ctx) override {
    MV_ASSIGN(auto tokens, c_.store->tokens());
    return write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      uint64_t ended = 0;
      for (const auto& t : tokens)
        if (t.username == ctx.subject.user && t.kind.starts_with("session") && !t.revoked) {
          MV_ASSIGN(auto n, txn.revoke_tokens("", t.token_id));
          ended += n;
        }
      auto e = c_.entry(ctx, "logout-all");
      e.detail = std::to_string(ended) + " sessions ended";
      log.push_back(std::move(e));
      return ok_status();
    });
  }

  Result<std::vector<SessionSummary>> list(const RequestContext& ctx, const std::string& current_id) override {
    const int64_t now = c_.clock->now_ms();
    MV_ASSIGN(auto tokens, c_.store->tokens());
    std::vector<SessionSummary> out;
    for (const auto& t : tokens)
      if (t.username == ctx.subject.user && t.kind.starts_with("session") && !t.revoked && t.expires_ms > now &&
          now - t.last_used_ms < settings_.idle_ms)
        out.push_back({t.token_id, t.created_ms, t.last_used_ms, t.expires_ms, t.token_id == current_id});
    return out;
  }

  Result<std::map<std::string, size_t>> active_sessions() override {
    const int64_t now = c_.clock->now_ms();
    MV_ASSIGN(auto tokens, c_.store->tokens());
    std::map<std::string, size_t> out;
    for (const auto& t : tokens)
      if (t.kind.starts_with("session") && !t.revoked && t.expires_ms > now && now - t.last_used_ms < settings_.idle_ms)
        ++out[t.username];
    return out;
  }

  Status end(const RequestContext& ctx, const std::string& token_id) override {
    MV_ASSIGN(auto tokens, c_.store->tokens());
    const bool mine = std::any_of(tokens.begin(), tokens.end(), [&](const store::TokenRow& t) {
      return t.token_id == token_id && t.username == ctx.subject.user && t.kind.starts_with("session") && !t.revoked;
    });
    if (!mine) return make_error(Errc::not_found, "no such session");
    return logout(ctx, token_id);
  }

  Result<TotpEnrolment> totp_enrol(const RequestContext& ctx) override {
    const std::string& user = ctx.subject.user;
    std::string secret = auth::totp_new_secret();
    TotpEnrolment out;
    out.secret_base32 = auth::base32_encode(secret);
    out.uri = auth::totp_uri(secret, settings_.practice_name, user);
    auto svg = auth::qr_svg(out.uri);
    const std::string sealed = b64(crypto::seal(totp_key_, totp_ad(user), secret));
    sodium_memzero(secret.data(), secret.size());
    MV_TRY(svg);
    out.qr_svg = std::move(*svg);
    MV_TRY(update_account(ctx, "totp-enrol-begin", "", [&](bj::object& d) -> Status {
      d["totp_pending"] = sealed;
      return ok_status();
    }));
    return out;
  }

  Result<std::vector<std::string>> totp_confirm(const RequestContext& ctx, std::string_view code) override {
    const std::string& user = ctx.subject.user;
    std::vector<std::string> codes;
    Status st = update_account(ctx, "totp-enrol", "", [&](bj::object& d) -> Status {
      const std::string pending = str(d, "totp_pending");
      if (pending.empty()) return make_error(Errc::invalid, "no TOTP enrolment in progress: start one first");
      auto secret = open_totp(user, pending);
      if (!secret) return make_error(Errc::integrity, "pending TOTP secret unreadable");
      auto step = auth::totp_verify(*secret, code, c_.clock->now_ms() / 1000, -1);
      sodium_memzero(secret->data(), secret->size());
      if (!step) return make_error(step.error().code, "wrong or expired code: enter the code the app shows now");
      bj::object t;
      t["secret"] = pending;
      t["last_step"] = *step;
      d["totp"] = std::move(t);
      d.erase("totp_pending");
      auto rc = auth::generate_recovery_codes(c_.session_key);
      bj::array hashes;
      for (auto& h : rc.hashes) hashes.emplace_back(h);
      d["recovery"] = std::move(hashes);
      codes = std::move(rc.codes);
      return ok_status();
    });
    MV_TRY(st);
    return codes;
  }

  Result<Ceremony> passkey_register_begin(const RequestContext& ctx) override {
    const std::string& user = ctx.subject.user;
    MV_ASSIGN(auto row, c_.store->account(user));
    if (!row) return make_error(Errc::not_found, "no account");
    bj::object d = data_object(row->data);
    std::string handle = str(d, "user_handle");
    if (handle.empty()) {
      handle = random_b64url(32);
      MV_TRY(update_account(ctx, "", "", [&](bj::object& x) -> Status {
        if (str(x, "user_handle").empty()) x["user_handle"] = handle;
        else handle = str(x, "user_handle");
        return ok_status();
      }));
    }
    bj::object pk;
    pk["challenge"] = wa::new_challenge();
    pk["rp"] = {{"id", settings_.rp_id}, {"name", settings_.practice_name}};
    pk["user"] = {{"id", handle}, {"name", user}, {"displayName", user}};
    bj::array params;
    for (int alg : {-7, -8, -257}) params.push_back({{"type", "public-key"}, {"alg", alg}});
    pk["pubKeyCredParams"] = std::move(params);
    pk["authenticatorSelection"] = {{"residentKey", "required"}, {"requireResidentKey", true}, {"userVerification", "required"}};
    pk["attestation"] = "none";
    bj::array exclude;
    for (const auto& k : arr(d, "passkeys"))
      if (k.is_object()) exclude.push_back({{"type", "public-key"}, {"id", str(k.as_object(), "id")}});
    pk["excludeCredentials"] = std::move(exclude);
    pk["timeout"] = 120000;
    return begin_ceremony("register", user, std::move(pk), c_.clock->now_ms());
  }

  Result<std::string> passkey_register_finish(const RequestContext& ctx, const PasskeyAttestation& a) override {
    const std::string& user = ctx.subject.user;
    const int64_t now = c_.clock->now_ms();
    if (a.label.size() > 100) return make_error(Errc::invalid, "label longer than 100 bytes");
    std::string id, reason;
    Errc code = Errc::unauthenticated;
    MV_TRY(write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      auto fail = [&](Errc c, std::string why) -> Status {
        code = c;
        reason = std::move(why);
        auto e = c_.entry(ctx, "passkey-register");
        e.outcome = "4";
        e.detail = reason;
        log.push_back(std::move(e));
        return ok_status();
      };
      auto challenge = take_ceremony(txn, a.ceremony, "register", user, now);
      if (!challenge) return fail(Errc::unauthenticated, challenge.error().message);
      auto cred = wa::verify_registration(rp(), *challenge, a.client_data_json, a.attestation_object);
      if (!cred) return fail(cred.error().code, cred.error().message);
      id = wa::base64url_encode(cred->id);
      MV_ASSIGN(auto accounts, c_.store->accounts());
      for (const auto& r : accounts)
        for (const auto& k : arr(data_object(r.data), "passkeys"))
          if (k.is_object() && str(k.as_object(), "id") == id) return fail(Errc::conflict, "credential already registered");
      MV_ASSIGN(auto row, c_.store->account(user));
      if (!row) return fail(Errc::unauthenticated, "account removed");
      bj::object d = data_object(row->data);
      auto keys = arr(d, "passkeys");
      if (keys.size() >= kMaxPasskeys) return fail(Errc::invalid, "at most 20 passkeys per account");
      bj::object k;
      k["id"] = id;
      k["key"] = b64(cred->public_key_der);
      k["alg"] = static_cast<int>(cred->alg);
      k["count"] = static_cast<int64_t>(cred->sign_count);
      k["be"] = cred->backup_eligible;
      k["bs"] = cred->backed_up;
      k["aaguid"] = b64(cred->aaguid);
      k["fmt"] = cred->attestation_format;
      k["label"] = a.label.empty() ? "passkey" : a.label;
      k["created"] = now;
      k["last_used"] = int64_t{0};
      keys.push_back(std::move(k));
      d["passkeys"] = std::move(keys);
      MV_TRY(txn.put_account({row->username, row->role, bj::serialize(d), row->created_ms}));
      auto e = c_.entry(ctx, "passkey-register");
      e.detail = "passkey " + (a.label.empty() ? std::string("passkey") : a.label);
      log.push_back(std::move(e));
      return ok_status();
    }));
    if (!reason.empty()) {
      if (code == Errc::invalid) return make_error(Errc::invalid, "malformed passkey registration: " + reason);
      if (code == Errc::conflict) return make_error(Errc::conflict, reason);
      return make_error(Errc::unauthenticated, "passkey registration refused: " + reason);
    }
    return id;
  }

  Result<Ceremony> step_up_begin(const RequestContext& ctx) override {
    MV_ASSIGN(auto row, c_.store->account(ctx.subject.user));
    if (!row) return make_error(Errc::not_found, "no account");
    bj::array allow;
    for (const auto& k : arr(data_object(row->data), "passkeys"))
      if (k.is_object()) allow.push_back({{"type", "public-key"}, {"id", str(k.as_object(), "id")}});
    if (allow.empty()) return make_error(Errc::invalid, "this account has no passkey: use a TOTP code");
    return begin_ceremony("step-up", ctx.subject.user, assertion_options(std::move(allow)), c_.clock->now_ms());
  }

  Result<StepUpToken> step_up_finish(const RequestContext& ctx, const PasskeyAssertion& a) override {
    const std::string& user = ctx.subject.user;
    const int64_t now = c_.clock->now_ms();
    StepUpToken out;
    std::string reason;
    MV_TRY(write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      auto e = c_.entry(ctx, "step-up");
      auto fail = [&](std::string why) -> Status {
        reason = std::move(why);
        e.outcome = "4";
        e.detail = "passkey: " + reason;
        log.push_back(std::move(e));
        return ok_status();  // commit the consumed ceremony and the audit entry
      };
      auto challenge = take_ceremony(txn, a.ceremony, "step-up", user, now);
      if (!challenge) return fail(challenge.error().message);
      MV_ASSIGN(auto row, c_.store->account(user));
      if (!row) return fail("account removed");
      bj::object d = data_object(row->data);
      const std::string id = wa::base64url_encode(a.credential_id);
      auto* keys = d.if_contains("passkeys");
      bj::object* entry = nullptr;
      if (keys && keys->is_array())
        for (auto& k : keys->as_array())
          if (k.is_object() && str(k.as_object(), "id") == id) entry = &k.as_object();
      // Another user's passkey, even a valid one, does not step this user up.
      if (!entry) return fail("not a passkey of this account");
      if (!a.user_handle.empty() && wa::base64url_encode(a.user_handle) != str(d, "user_handle"))
        return fail("user handle does not match the account");
      if (auto ok = accept_assertion(*entry, *challenge, a, now); !ok.ok()) return fail(ok.error().message);
      const std::string label = str(*entry, "label");
      MV_TRY(txn.put_account({row->username, row->role, bj::serialize(d), row->created_ms}));
      out.token = std::string(kStepUpTokenPrefix) + random_b64url(32);
      out.expires_ms = now + kStepUpTokenMs;
      bj::object stored;
      stored["user"] = user;
      stored["expires"] = out.expires_ms;
      MV_TRY(txn.put_meta(step_up_key(out.token), bj::serialize(stored)));
      e.detail = "passkey " + label + ": one-time token issued";
      log.push_back(std::move(e));
      return ok_status();
    }));
    if (!reason.empty()) return make_error(Errc::unauthenticated, "step-up authentication failed");
    return out;
  }

  Status step_up(const RequestContext& ctx, std::string_view code) override {
    const Error refused = make_error(Errc::unauthenticated, "step-up authentication failed");
    if (code.starts_with(kStepUpTokenPrefix)) return step_up_token(ctx, code);
    if (code.size() != 6) return refused;
    bool ok = false;
    MV_TRY(update_account(ctx, "step-up", "", [&](bj::object& d) -> Status {
      auto* t = d.if_contains("totp");
      if (!t || !t->is_object()) return refused;
      auto secret = open_totp(ctx.subject.user, str(t->as_object(), "secret"));
      if (!secret) return refused;
      auto step = auth::totp_verify(*secret, code, c_.clock->now_ms() / 1000, num(t->as_object(), "last_step", -1));
      sodium_memzero(secret->data(), secret->size());
      if (!step) return refused;
      t->as_object()["last_step"] = *step;
      ok = true;
      return ok_status();
    }));
    return ok ? ok_status() : Status(refused);
  }

  Result<PurgeCounts> purge() override {
    const int64_t now = c_.clock->now_ms();
    PurgeCounts n;
    const int64_t idle_before = now - settings_.idle_ms;
    // Looked for first, so that a purge with nothing to do writes nothing.
    MV_ASSIGN(auto tokens, c_.store->tokens());
    const bool dead_sessions = std::any_of(tokens.begin(), tokens.end(), [&](const store::TokenRow& t) {
      return t.kind.starts_with("session") && (t.revoked || t.expires_ms <= now || t.last_used_ms <= idle_before);
    });
    // The count a dead meta pair adds to, or null while it may still serve.
    auto dead_in = [&](const std::string& k, const std::string& v) -> uint64_t* {
      if (k.starts_with("ceremony/")) return num(data_object(v), "expires") <= now ? &n.ceremonies : nullptr;
      if (k.starts_with(kStepUpTokenKey)) return num(data_object(v), "expires") <= now ? &n.step_up_tokens : nullptr;
      if (k.starts_with("throttle/")) return now - num(data_object(v), "last") > kCounterForgetMs ? &n.counters : nullptr;
      return nullptr;
    };
    MV_ASSIGN(auto metas, c_.store->metas());
    std::vector<std::string> dead;
    for (const auto& [k, v] : metas)
      if (dead_in(k, v)) dead.push_back(k);
    if (!dead_sessions && dead.empty()) return n;
    MV_TRY(write([&](store::Transaction& txn, std::vector<audit::Entry>&) -> Status {
      MV_ASSIGN(n.sessions, txn.purge_sessions(now, idle_before));
      for (const auto& key : dead) {
        // Read again under the writer lock: a counter may have counted a
        // failure since.
        MV_ASSIGN(auto value, c_.store->meta(key));
        uint64_t* counted = value ? dead_in(key, *value) : nullptr;
        if (!counted) continue;
        MV_ASSIGN(auto existed, txn.delete_meta(key));
        *counted += existed ? 1 : 0;
      }
      return ok_status();
    }));
    return n;
  }

  // ---------------------------------------------------------- administration

  Status set_password(const RequestContext& ctx, const std::string& username, std::string_view password) override {
    MV_TRY(require_admin(ctx));
    MV_ASSIGN(auto row, c_.store->account(username));
    if (!row) return make_error(Errc::not_found, "no user " + username);
    auth::PasswordContext pc{username, "", settings_.practice_name, mfa_required(row->role)};
    auto verdict = auth::check_password(password, pc);
    if (!verdict.ok()) return make_error(Errc::invalid, "password refused: " + verdict.reason);
    MV_ASSIGN(auto hash, auth::hash_password(password));
    return update_account(ctx, "password-set", username, [&](bj::object& d) -> Status {
      d["password"] = hash;
      return ok_status();
    });
  }

  Status add_certificate(const RequestContext& ctx, const std::string& username, std::string_view sha256) override {
    MV_TRY(require_admin(ctx));
    if (sha256.size() != 64 || sha256.find_first_not_of("0123456789abcdef") != std::string_view::npos)
      return make_error(Errc::invalid, "certificate fingerprint must be 64 lower-case hex digits");
    MV_ASSIGN(auto accounts, c_.store->accounts());
    for (const auto& r : accounts)
      for (const auto& h : arr(data_object(r.data), "certs"))
        if (h.is_string() && h.as_string() == sha256)
          return make_error(Errc::conflict, "certificate already mapped to " + r.username);
    return update_account(ctx, "certificate-add", username, [&](bj::object& d) -> Status {
      auto certs = arr(d, "certs");
      if (certs.size() >= kMaxCertificates) return make_error(Errc::invalid, "at most 10 certificates per account");
      certs.emplace_back(std::string(sha256));
      d["certs"] = std::move(certs);
      return ok_status();
    });
  }

  Status reset_factors(const RequestContext& ctx, const std::string& username) override {
    MV_TRY(require_admin(ctx));
    return update_account(ctx, "factors-reset", username, [&](bj::object& d) -> Status {
      for (const char* k : {"totp", "totp_pending", "recovery", "passkeys"}) d.erase(k);
      return ok_status();
    }, /*end_sessions=*/true);
  }

 private:
  static Status require_admin(const RequestContext& ctx) {
    if (ctx.subject.role == "system" || ctx.subject.role == "it-admin") return ok_status();
    return make_error(Errc::forbidden, "only an administrator manages accounts");
  }

  wa::RelyingParty rp() const { return {settings_.rp_id, settings_.origin}; }

  // The publicKey options of navigator.credentials.get: a fresh challenge,
  // user verification required, `allow` the credentials that may answer
  // (empty: any passkey of this relying party, a discoverable credential).
  bj::object assertion_options(bj::array allow) const {
    bj::object pk;
    pk["challenge"] = wa::new_challenge();
    pk["rpId"] = settings_.rp_id;
    pk["timeout"] = 120000;
    pk["userVerification"] = "required";
    pk["allowCredentials"] = std::move(allow);
    return pk;
  }

  // Checks an assertion against one stored passkey (signature, challenge,
  // origin, UV, counter, backup eligibility) and, if it holds, records the
  // new counter, backup state and last use in `entry`.
  Status accept_assertion(bj::object& entry, const std::string& challenge, const PasskeyAssertion& a, int64_t now) {
    auto cred = credential_of(entry);
    if (!cred) return make_error(Errc::unauthenticated, "stored credential unreadable");
    auto r = wa::verify_assertion(rp(), challenge, *cred, a.client_data_json, a.authenticator_data, a.signature);
    if (!r) return r.error();
    if (r->backup_eligible != cred->backup_eligible) return make_error(Errc::unauthenticated, "backup eligibility changed");
    entry["count"] = static_cast<int64_t>(r->sign_count);
    entry["bs"] = r->backed_up;
    entry["last_used"] = now;
    return ok_status();
  }

  std::string step_up_key(std::string_view token) const {
    return std::string(kStepUpTokenKey) + hex(c_.hash_token(token));
  }

  // A step-up token: deleted by the transaction that reads it (the
  // store's test-and-delete under the writer lock), whoever presents it.
  Status step_up_token(const RequestContext& ctx, std::string_view token) {
    const Error refused = make_error(Errc::unauthenticated, "step-up authentication failed");
    std::string reason;
    MV_TRY(write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      if (token.size() != kStepUpTokenPrefix.size() + 43) {
        reason = "malformed step-up token";
      } else {
        const std::string key = step_up_key(token);
        MV_ASSIGN(auto value, c_.store->meta(key));
        MV_ASSIGN(auto existed, txn.delete_meta(key));
        const bj::object o = value ? data_object(*value) : bj::object();
        if (!value || !existed) reason = "unknown or used step-up token";
        else if (str(o, "user") != ctx.subject.user) reason = "step-up token of another user";
        else if (num(o, "expires") <= c_.clock->now_ms()) reason = "expired step-up token";
      }
      auto e = c_.entry(ctx, "step-up");
      e.outcome = reason.empty() ? "0" : "4";
      e.detail = reason.empty() ? "passkey token used" : "passkey token: " + reason;
      log.push_back(std::move(e));
      return ok_status();
    }));
    return reason.empty() ? ok_status() : Status(refused);
  }

  template <typename Fn>
  Status write(Fn&& fn) {
    MV_ASSIGN(auto txn, c_.store->begin());
    std::vector<audit::Entry> log;
    Status st = fn(*txn, log);
    if (st.ok() && !log.empty()) st = c_.audit->add(*txn, std::move(log));
    if (st.ok()) st = txn->commit();
    c_.audit->after_commit(st.ok());
    return st;
  }

  // Read-modify-write of an account's data in one transaction (audited with
  // `action` unless empty). `username` empty: the signed-in user.
  template <typename Fn>
  Status update_account(const RequestContext& ctx, std::string_view action, std::string username, Fn&& fn,
                        bool end_sessions = false) {
    if (username.empty()) username = ctx.subject.user;
    return write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      MV_ASSIGN(auto row, c_.store->account(username));
      if (!row) return make_error(Errc::not_found, "no user " + username);
      bj::object d = data_object(row->data);
      MV_TRY(fn(d));
      MV_TRY(txn.put_account({row->username, row->role, bj::serialize(d), row->created_ms}));
      if (end_sessions) {
        MV_TRY(txn.revoke_tokens(username, ""));
      }
      if (!action.empty()) {
        auto e = c_.entry(ctx, action);
        e.detail = username;
        log.push_back(std::move(e));
      }
      return ok_status();
    });
  }

  // Why an account with valid credentials may not sign in, if it may not.
  std::optional<std::string> unusable(const store::AccountRow& row) const {
    const auto a = info_of(row);
    if (a.disabled) return "disabled account";
    if (a.expires_ms && a.expires_ms <= c_.clock->now_ms()) return "expired account";
    return std::nullopt;
  }


  std::string keyed(std::string_view domain, std::string_view text, size_t n) const {
    std::string in = std::string(domain) + '\n' + std::string(text);
    std::string out(n, '\0');
    crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                       reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                       c_.session_key.data(), c_.session_key.size());
    return out;
  }

  // What the audit keeps of a typed user name that may not be one (people
  // type their password there): a keyed hash, enough to see repeats.
  std::string name_hash(const std::string& typed) const { return hex(keyed("medvault typed name v1", typed, 6)); }

  std::string csrf_of(const std::string& token_hash) const {
    return wa::base64url_encode(keyed("medvault csrf v1", token_hash, 24));
  }

  static std::string totp_ad(const std::string& user) { return "medvault login totp v1\n" + user; }
  std::optional<std::string> open_totp(const std::string& user, const std::string& sealed_b64) const {
    auto blob = unb64(sealed_b64);
    if (!blob) return std::nullopt;
    auto secret = crypto::open(totp_key_, totp_ad(user), *blob);
    if (!secret) return std::nullopt;
    return std::move(*secret);
  }

  static std::optional<wa::Credential> credential_of(const bj::object& k) {
    wa::Credential c;
    auto id = wa::base64url_decode(str(k, "id"));
    auto key = unb64(str(k, "key"));
    if (!id || !key) return std::nullopt;
    c.id = std::move(*id);
    c.public_key_der = std::move(*key);
    c.alg = static_cast<wa::Alg>(num(k, "alg"));
    c.sign_count = static_cast<uint32_t>(num(k, "count"));
    const auto* be = k.if_contains("be");
    c.backup_eligible = be && be->is_bool() && be->as_bool();
    return c;
  }

  SessionInfo describe(const store::AccountRow& row, const bj::object& d, int64_t expires_ms, bool certificate) const {
    SessionInfo s;
    s.subject = subject_of(info_of(row));
    s.has_password = !str(d, "password").empty();
    s.has_totp = d.if_contains("totp") != nullptr;
    s.passkeys = static_cast<int>(arr(d, "passkeys").size());
    s.enrol_required = !certificate && mfa_required(row.role) && !s.has_totp && s.passkeys == 0;
    s.expires_ms = expires_ms;
    return s;
  }

  Result<SessionInfo> new_session(store::Transaction& txn, const store::AccountRow& row, const bj::object& d,
                                  int64_t now, bool certificate = false) {
    SessionInfo s = describe(row, d, now + settings_.max_ms, certificate);
    s.token = std::string(kSessionPrefix) + random_b64url(32);
    const std::string h = c_.hash_token(s.token);
    s.token_id = hex(std::string_view(h).substr(0, 6));
    s.csrf = csrf_of(h);
    // `kind` records how the session was made: a certificate session
    // satisfies MFA on its own (smart card: possession and PIN).
    MV_TRY(txn.put_token({h, s.token_id, row.username, certificate ? "session-cert" : "session", now, s.expires_ms, now, false}));
    return s;
  }

  static AccountInfo named(const std::string& user) {
    AccountInfo a;
    a.username = user;
    return a;
  }

  audit::Entry login_entry(const AccountInfo& a, const std::string& address, const char* outcome,
                           std::string detail) const {
    audit::Entry e;
    e.time_ms = c_.clock->now_ms();
    e.user = a.username;
    e.role = a.role;
    e.action = "login";
    e.address = address;
    e.outcome = outcome;
    e.detail = std::move(detail);
    return e;
  }

  // ------------------------------------------------------------ ceremonies

  Result<Ceremony> begin_ceremony(std::string_view kind, const std::string& user, bj::object pk, int64_t now) {
    Ceremony c;
    c.id = random_b64url(16);
    bj::object stored;
    stored["kind"] = kind;
    stored["user"] = user;
    stored["challenge"] = pk["challenge"];
    stored["expires"] = now + kCeremonyMs;
    MV_TRY(write([&](store::Transaction& txn, std::vector<audit::Entry>&) -> Status {
      return txn.put_meta("ceremony/" + c.id, bj::serialize(stored));
    }));
    if (++begun_ % 256 == 0) (void)sweep_ceremonies(now);
    c.options_json = bj::serialize(pk);
    return c;
  }

  // Deletes the ceremony (single use) and returns its challenge if it is of
  // this kind and user and not expired.
  Result<std::string> take_ceremony(store::Transaction& txn, const std::string& id, std::string_view kind,
                                    const std::string& user, int64_t now) {
    const Error bad = make_error(Errc::unauthenticated, "unknown, used or expired ceremony");
    if (id.empty() || id.size() > 64) return bad;
    MV_ASSIGN(auto value, c_.store->meta("ceremony/" + id));
    MV_ASSIGN(auto existed, txn.delete_meta("ceremony/" + id));
    if (!value || !existed) return bad;
    const bj::object o = data_object(*value);
    if (str(o, "kind") != kind || str(o, "user") != user || num(o, "expires") <= now) return bad;
    return str(o, "challenge");
  }

  Status sweep_ceremonies(int64_t now) {
    MV_ASSIGN(auto metas, c_.store->metas());
    return write([&](store::Transaction& txn, std::vector<audit::Entry>&) -> Status {
      for (const auto& [k, v] : metas)
        if (k.starts_with("ceremony/") && num(data_object(v), "expires") <= now) {
          MV_TRY(txn.delete_meta(k));
        }
      return ok_status();
    });
  }

  // ------------------------------------------------------------- throttling

  Result<std::vector<Counter>> load_counters(const std::string& user, const std::string& address, bool with_user) {
    std::vector<std::pair<const CounterKind*, std::string>> keys = {{&kAddress, "a\n" + address}};
    if (with_user) {
      keys.push_back({&kAccountAddress, "ua\n" + user + "\n" + address});
      keys.push_back({&kAccount, "u\n" + user});
    }
    std::vector<Counter> out;
    for (auto& [kind, text] : keys) out.push_back(Counter{kind, "throttle/" + hex(keyed("medvault throttle v1", text, 16))});
    MV_TRY(reload(out));
    return out;
  }

  // The seconds to wait if a counter is engaged.
  static std::optional<int64_t> throttled(const std::vector<Counter>& counters, int64_t now, SignIn& attempt) {
    int64_t until = 0;
    for (const auto& c : counters) until = std::max(until, c.blocked_until());
    if (until <= now) return std::nullopt;
    attempt.retry_after_s = (until - now + 999) / 1000;
    return attempt.retry_after_s;
  }

  Status put_counter(store::Transaction& txn, const Counter& c) {
    bj::object o;
    o["n"] = c.n;
    o["last"] = c.last_ms;
    o["flagged"] = c.flagged;
    return txn.put_meta(c.key, bj::serialize(o));
  }

  // After a success: the account's counters start again; the address's
  // keeps its failures (one good account must not clear guesses at others),
  // minus this attempt if it was counted beforehand.
  Status reset(store::Transaction& txn, std::vector<Counter>& counters, bool counted) {
    for (auto& c : counters) {
      if (c.kind != &kAddress) {
        if (c.n > 0) MV_TRY(txn.delete_meta(c.key));
      } else if (counted && c.n > 0) {
        --c.n;
        MV_TRY(put_counter(txn, c));
      }
    }
    return ok_status();
  }

  // Fresh values of the counters (call under the writer lock).
  Status reload(std::vector<Counter>& counters) {
    const int64_t now = c_.clock->now_ms();
    for (auto& c : counters) {
      MV_ASSIGN(auto v, c_.store->meta(c.key));
      Counter fresh{c.kind, c.key};
      if (v) {
        const bj::object o = data_object(*v);
        fresh.n = num(o, "n");
        fresh.last_ms = num(o, "last");
        const auto* f = o.if_contains("flagged");
        fresh.flagged = f && f->is_bool() && f->as_bool();
        if (now - fresh.last_ms > kCounterForgetMs) fresh = Counter{c.kind, c.key};
      }
      c = std::move(fresh);
    }
    return ok_status();
  }

  Status count_failure(store::Transaction& txn, std::vector<Counter>& counters, int64_t now) {
    for (auto& c : counters) {
      ++c.n;
      c.last_ms = now;
      MV_TRY(put_counter(txn, c));
    }
    return ok_status();
  }

  // A refused sign-in: counters up, one audit entry, the fixed answer.
  Error refuse(std::vector<Counter>& counters, const std::string& user, const std::string& attempted,
               SignIn& attempt, const std::string& reason, std::string_view method, bool counted = false) {
    const int64_t now = c_.clock->now_ms();
    Status st = write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      if (!counted) {
        MV_TRY(reload(counters));
        MV_TRY(count_failure(txn, counters, now));
      }
      AccountInfo who;
      who.username = user;
      std::string detail = std::string(method) + ": " + reason;
      if (user.empty() && !attempted.empty()) detail += " (name hash " + name_hash(attempted) + ")";
      log.push_back(login_entry(who, attempt.address, "4", std::move(detail)));
      return ok_status();
    });
    if (!st.ok()) return make_error(Errc::unavailable, "audit log unavailable; request refused");
    return make_error(Errc::unauthenticated, std::string(kSignInRefused));
  }

  // An attempt during a wait: not checked, not counted, audited; the first
  // one of a counter's wait raises a flagged security event.
  Result<SessionInfo> refuse_throttled(std::vector<Counter>& counters, const std::string& attempted,
                                       SignIn& attempt, int64_t retry_s) {
    const int64_t now = c_.clock->now_ms();
    Status st = write([&](store::Transaction& txn, std::vector<audit::Entry>& log) -> Status {
      audit::Entry e = login_entry(AccountInfo{}, attempt.address, "4", "throttled: retry after " + std::to_string(retry_s) + " s");
      e.action = "login-throttled";
      // A real account is named; anything else typed is kept as a hash.
      if (!attempted.empty()) {
        MV_ASSIGN(auto known, c_.store->account(attempted));
        if (known) e.user = attempted;
        else e.detail += " (name hash " + name_hash(attempted) + ")";
      }
      log.push_back(std::move(e));
      MV_TRY(reload(counters));
      for (auto& c : counters)
        if (c.blocked_until() > now && !c.flagged) {
          c.flagged = true;
          MV_TRY(put_counter(txn, c));
          audit::Entry s = login_entry(AccountInfo{}, attempt.address, "4",
                                       "sign-in throttling engaged: " + std::string(c.kind->name) + " counter at " +
                                           std::to_string(c.n) + " failures" +
                                           (attempted.empty() ? std::string() : " (name hash " + name_hash(attempted) + ")"));
          s.action = "security-event";
          s.flagged = true;
          log.push_back(std::move(s));
        }
      return ok_status();
    });
    if (!st.ok()) return make_error(Errc::unavailable, "audit log unavailable; request refused");
    return make_error(Errc::throttled, std::string(kThrottled));
  }

  Core& c_;
  SessionSettings settings_;
  crypto::SecretKey totp_key_;
  std::atomic<uint64_t> begun_{0};
};

}  // namespace

std::unique_ptr<Sessions> make_sessions(Core& core) { return std::make_unique<SessionsImpl>(core); }

}  // namespace medvault::vault
