// Time-based one-time passwords (RFC 6238) through liboath: enrolment
// (secret, otpauth:// URI, QR code as SVG) and verification that accepts a
// code once only.
//
// The secret is a shared secret, not a hash: the caller stores it encrypted
// (docs/formats/auth.md). Times are Unix seconds supplied by the caller
// (from its injectable Clock), so tests move time without sleeping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace medvault::auth {

enum class TotpAlgorithm { sha1, sha256, sha512 };

struct TotpParams {
  int digits = 6;          // 6..8
  int period = 30;         // seconds per step
  TotpAlgorithm algorithm = TotpAlgorithm::sha1;
};

inline constexpr size_t kTotpSecretBytes = 20;  // 160 bits (RFC 4226 recommends it)

// A fresh random secret (raw bytes, kTotpSecretBytes long).
std::string totp_new_secret();

// RFC 4648 base32 without padding, as authenticator apps expect; and back
// (case-insensitive, spaces ignored). Errc::invalid for bad base32.
std::string base32_encode(std::string_view bytes);
Result<std::string> base32_decode(std::string_view text);

// otpauth://totp/<practice>:<username>?secret=...&issuer=medvault&algorithm=...
// &digits=...&period=... with the label parts percent-encoded.
std::string totp_uri(std::string_view secret, std::string_view practice, std::string_view username,
                     const TotpParams& params = {}, std::string_view issuer = "medvault");

// The QR code of `text` (error correction level M) as a standalone SVG
// document, black modules on white with a 4-module quiet zone.
// Errc::too_large if `text` does not fit in a QR code.
Result<std::string> qr_svg(std::string_view text);

// The step containing `unix_seconds` (floor division by the period).
int64_t totp_step(int64_t unix_seconds, const TotpParams& params = {});

// The code of `step` (zero-padded decimal string). Errc::invalid for an empty
// secret or bad parameters.
Result<std::string> totp_code_at_step(std::string_view secret, int64_t step, const TotpParams& params = {});
Result<std::string> totp_code(std::string_view secret, int64_t unix_seconds, const TotpParams& params = {});

// Checks `code` against the steps now-1, now and now+1 (one step of clock
// drift either side). A step <= last_used_step is never accepted, so a code
// works once and an older code after a newer one fails. On success returns
// the matched step: the caller stores it as the new last_used_step before
// answering. Use last_used_step = -1 when no code was ever accepted.
// Errc::unauthenticated "wrong or expired code" / "code already used";
// Errc::invalid for a code that is not `digits` decimal digits.
Result<int64_t> totp_verify(std::string_view secret, std::string_view code, int64_t unix_seconds,
                            int64_t last_used_step, const TotpParams& params = {});

}  // namespace medvault::auth
