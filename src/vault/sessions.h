// Signing in and sessions (docs/auth-api.md): password with a second factor
// (TOTP or a recovery code), passkeys (WebAuthn), client certificates; the
// enrolment of those factors; browser sessions with idle and absolute
// timeouts; throttling of guesses. Every state (sessions, ceremonies,
// counters, credentials) lives in the store, so several nodes share it.
//
// Every sign-in failure is one Errc::unauthenticated with one fixed message
// whatever the reason; the reason goes to the audit log only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "access/policy.h"
#include "common/result.h"
#include "vault/repository.h"

namespace medvault::vault {

struct SessionSettings {
  int64_t idle_ms = 15 * 60 * 1000;       // server-side idle timeout
  int64_t max_ms = 12 * 60 * 60 * 1000;   // absolute lifetime
  std::string rp_id = "localhost";        // WebAuthn relying party id (host of the public URL)
  std::string origin = "https://localhost:8443";  // the exact origin browsers use
  std::string practice_name = "medvault";  // issuer label of TOTP enrolments
};

inline constexpr std::string_view kSignInRefused = "sign-in refused: check the user name and credentials";
inline constexpr std::string_view kThrottled = "too many failed attempts: try again later";

struct SessionInfo {
  std::string token;     // the cookie value; only when the session was just created
  std::string token_id;  // short public id (listing, ending one session)
  access::Subject subject;
  std::string csrf;      // the X-CSRF-Token value of this session
  bool enrol_required = false;  // MFA is required and no second factor exists yet
  bool has_password = false, has_totp = false;
  int passkeys = 0;
  int64_t expires_ms = 0;  // absolute end
};

// One sign-in attempt's circumstances, and what the caller tells the client.
struct SignIn {
  std::string address;
  int64_t retry_after_s = 0;  // set with Errc::throttled
};

// A WebAuthn ceremony the server keeps: its id and the publicKey options
// for navigator.credentials.create/get, as a JSON object text.
struct Ceremony {
  std::string id;
  std::string options_json;
};

// Binary fields already decoded from base64url.
struct PasskeyAssertion {
  std::string ceremony, credential_id, client_data_json, authenticator_data, signature, user_handle;
};
struct PasskeyAttestation {
  std::string ceremony, client_data_json, attestation_object, label;
};

// A one-time step-up token (passkey step-up): sent as X-Step-Up instead of
// a TOTP code, accepted once by Sessions::step_up.
inline constexpr std::string_view kStepUpTokenPrefix = "mvu_";
struct StepUpToken {
  std::string token;       // kStepUpTokenPrefix + 256 random bits, base64url
  int64_t expires_ms = 0;
};

// What Sessions::purge deleted.
struct PurgeCounts {
  uint64_t sessions = 0, ceremonies = 0, step_up_tokens = 0, counters = 0;
};

struct TotpEnrolment {
  std::string secret_base32, uri, qr_svg;
};

struct SessionSummary {
  std::string id;
  int64_t created_ms = 0, last_used_ms = 0, expires_ms = 0;
  bool current = false;
};

class Sessions {
 public:
  virtual ~Sessions() = default;

  // Set once before serving.
  virtual void configure(const SessionSettings& settings) = 0;
  virtual const SessionSettings& settings() const = 0;

  // ---- sign-in. Errc::unauthenticated (kSignInRefused), Errc::throttled
  // (kThrottled, attempt.retry_after_s), Errc::invalid for malformed input.
  // `code` is a TOTP code or a recovery code ("" when the account has no
  // second factor yet).
  virtual Result<SessionInfo> login_password(std::string_view username, std::string_view password,
                                             std::string_view code, SignIn& attempt) = 0;
  virtual Result<Ceremony> passkey_login_begin(SignIn& attempt) = 0;
  virtual Result<SessionInfo> passkey_login_finish(const PasskeyAssertion& a, SignIn& attempt) = 0;
  // `cert_sha256`: lower-case hex SHA-256 of the DER certificate the TLS
  // layer verified against the client CA and CRL.
  virtual Result<SessionInfo> certificate_login(std::string_view cert_sha256, SignIn& attempt) = 0;

  // The session of a cookie value; refreshes its last use. Errc::unauthenticated
  // for an unknown, ended, idle or expired session (audited).
  virtual Result<SessionInfo> session(std::string_view token, const std::string& address) = 0;

  // ---- the signed-in user (ctx.subject.user), audited.
  virtual Status logout(const RequestContext& ctx, const std::string& token_id) = 0;
  virtual Status logout_all(const RequestContext& ctx) = 0;
  virtual Result<std::vector<SessionSummary>> list(const RequestContext& ctx, const std::string& current_id) = 0;
  virtual Status end(const RequestContext& ctx, const std::string& token_id) = 0;  // Errc::not_found
  // The number of live (not ended, idle or expired) sessions of each user
  // who has any: the administrator's users page. The caller checks the role.
  virtual Result<std::map<std::string, size_t>> active_sessions() = 0;
  virtual Result<TotpEnrolment> totp_enrol(const RequestContext& ctx) = 0;
  // Returns the recovery codes (shown once).
  virtual Result<std::vector<std::string>> totp_confirm(const RequestContext& ctx, std::string_view code) = 0;
  virtual Result<Ceremony> passkey_register_begin(const RequestContext& ctx) = 0;
  // Returns the credential id (base64url).
  virtual Result<std::string> passkey_register_finish(const RequestContext& ctx, const PasskeyAttestation& a) = 0;
  // Step-up with a passkey: a ceremony bound to the signed-in user that
  // allows only the user's own credentials (Errc::invalid when the account
  // has none); then an assertion by one of them, with user verification and
  // the same counter checks as sign-in, gives a one-time token, valid 2
  // minutes, stored only as a keyed hash. A refused assertion is audited
  // and answers Errc::unauthenticated ("step-up authentication failed").
  virtual Result<Ceremony> step_up_begin(const RequestContext& ctx) = 0;
  virtual Result<StepUpToken> step_up_finish(const RequestContext& ctx, const PasskeyAssertion& a) = 0;
  // `code`: a fresh TOTP code of the signed-in user's own authenticator, or
  // a step-up token of the same user (step_up_finish). Either is used once:
  // the token is deleted in the writer transaction that accepts it, so two
  // requests cannot both use it. Errc::unauthenticated otherwise.
  virtual Status step_up(const RequestContext& ctx, std::string_view code) = 0;

  // ---- housekeeping (the server calls it periodically). Deletes what can
  // never be used again: ended, expired and idle sessions, expired
  // ceremonies and step-up tokens, guessing counters idle for 12 hours.
  // The audit log is never touched.
  virtual Result<PurgeCounts> purge() = 0;

  // ---- administration (system or it-admin), audited.
  // Errc::invalid with the reason (NIST SP 800-63B-4 rules) for a refused password.
  virtual Status set_password(const RequestContext& ctx, const std::string& username, std::string_view password) = 0;
  virtual Status add_certificate(const RequestContext& ctx, const std::string& username, std::string_view cert_sha256) = 0;
  // Forgets the user's TOTP, passkeys and recovery codes (lost device):
  // the next sign-in must enrol again. Ends the user's sessions.
  virtual Status reset_factors(const RequestContext& ctx, const std::string& username) = 0;
};

}  // namespace medvault::vault
