// WebAuthn Level 2 relying-party verification (passkeys): registration
// (navigator.credentials.create) and authentication
// (navigator.credentials.get). CBOR is parsed with libcbor, signatures are
// checked with OpenSSL 3; no OpenSSL or libcbor type appears here.
//
// Accepted: attestation formats "none" and "packed" self-attestation (no
// certificate chain; the page asks for attestation "none"); credential
// algorithms ES256 (-7), EdDSA/Ed25519 (-8) and RS256 (-257, modulus of 2048
// to 8192 bits). User presence and user verification are required.
//
// Every input is untrusted: sizes are bounded before parsing, CBOR nesting is
// bounded by libcbor, and every failure is an Error whose message names the
// check that failed without echoing input bytes. Errc::invalid when the
// input is malformed, Errc::unauthenticated when it is well-formed but a
// check fails (challenge, origin, rpId, flags, signature, counter).
//
// The caller keeps the challenge of each ceremony server-side, uses it
// once, and stores the returned Credential (docs/formats/auth.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace medvault::auth::webauthn {

inline constexpr size_t kMaxInputBytes = 64 * 1024;   // each of the inputs below
inline constexpr size_t kMaxCredentialIdBytes = 1023;  // WebAuthn Level 2 §5.8.3

// COSE algorithm identifiers.
enum class Alg : int { es256 = -7, eddsa = -8, rs256 = -257 };

struct RelyingParty {
  std::string id;      // rpId, e.g. "clinic.example"
  std::string origin;  // exact expected origin, e.g. "https://clinic.example" (or ":8443")
};

struct Credential {
  std::string id;              // raw credential id bytes (1..1023)
  std::string public_key_der;  // DER SubjectPublicKeyInfo of the credential key
  Alg alg = Alg::es256;
  uint32_t sign_count = 0;
  bool backup_eligible = false;  // BE: the key may be synced (multi-device passkey)
  bool backed_up = false;        // BS: it is currently backed up
  std::string aaguid;            // 16 bytes (all zero for attestation "none" on many platforms)
  std::string attestation_format;  // "none" or "packed"
};

// 32 random bytes as base64url without padding (what the page passes to the
// browser as the challenge, and what clientDataJSON echoes).
std::string new_challenge();

// Verifies a registration. `expected_challenge` is the base64url challenge
// the server issued for this ceremony.
Result<Credential> verify_registration(const RelyingParty& rp, std::string_view expected_challenge,
                                       std::string_view client_data_json,
                                       std::string_view attestation_object);

struct AssertionResult {
  uint32_t sign_count = 0;  // store it as the credential's new sign_count
  bool backup_eligible = false;
  bool backed_up = false;   // store it (the backup state may change over time)
  bool user_verified = true;
};

// Verifies an assertion made with `stored` (the caller found it by the
// credential id the browser returned, and checks the user handle).
// Sign counter: when the stored or the new counter is non-zero, the new one
// must be greater, otherwise the authenticator may be cloned
// (Errc::unauthenticated "signature counter did not increase").
Result<AssertionResult> verify_assertion(const RelyingParty& rp, std::string_view expected_challenge,
                                         const Credential& stored, std::string_view client_data_json,
                                         std::string_view authenticator_data, std::string_view signature);

// base64url without padding, the encoding WebAuthn uses for binary fields in
// JSON; decoding accepts padding and rejects anything else
// (Errc::invalid).
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);

}  // namespace medvault::auth::webauthn
