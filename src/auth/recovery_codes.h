// One-time recovery codes, the fallback when the second factor is lost.
//
// A code is 12 characters from a 32-letter alphabet without look-alikes
// (no 0/O, 1/I), shown as XXXX-XXXX-XXXX: 60 bits from the CSPRNG.
// Only a keyed BLAKE2b-256 hash (libsodium crypto_generichash) is stored.
// Why not Argon2id: a slow hash protects guessable secrets; these are
// uniformly random 60-bit values, so an offline search costs 2^59 hashes on
// average even with the key, and without the key (a sub-key of the master
// key that never leaves locked memory) the stored hashes reveal nothing.
// Online guessing is bounded by the login throttling. Ten Argon2id checks
// per attempt (256 MiB each) would instead hand attackers a cheap way to
// exhaust the server's memory.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/secret.h"

namespace medvault::auth {

inline constexpr int kRecoveryCodeCount = 10;

struct RecoveryCodes {
  std::vector<std::string> codes;   // "XXXX-XXXX-XXXX", shown to the user once, never stored
  std::vector<std::string> hashes;  // lower-case hex, what the caller stores
};

// `key`: the caller's 32-byte hashing key (e.g. crypto::SubKey::session).
RecoveryCodes generate_recovery_codes(const crypto::SecretKey& key, int count = kRecoveryCodeCount);

// Hash of one code as stored; the code is normalised first (case, spaces
// and hyphens ignored). Errc::invalid if it is not 12 alphabet characters.
Result<std::string> hash_recovery_code(const crypto::SecretKey& key, std::string_view code);

// Consumes `code`: if its hash is in `stored`, removes it from `stored` and
// returns how many codes remain; the caller persists `stored` before
// granting access, so each code works once. Every stored hash is compared
// (constant time). Errc::unauthenticated "unknown or already used recovery
// code"; Errc::invalid for a malformed code.
Result<size_t> consume_recovery_code(const crypto::SecretKey& key, std::string_view code,
                                     std::vector<std::string>& stored);

}  // namespace medvault::auth
