// Passwords: the NIST SP 800-63B-4 policy, Argon2id hashing and verification.
//
// Policy (check_password): at least 15 characters when the password is the
// only factor, 8 when it is one factor of MFA, up to 256 accepted; lengths
// are counted in Unicode code points after NFKC normalisation. No
// composition rules (no "one digit, one capital"): the password is only
// checked against the cracklib dictionary and against context words (user
// name, full name, practice name, "medvault") with libpwquality.
//
// Hashing: Argon2id through libsodium's crypto_pwhash_str (a self-describing
// "$argon2id$v=19$m=...,t=...,p=1$salt$hash" string the caller stores).
// Passwords are NFKC-normalised before hashing, so the same password typed
// with composed or decomposed accents verifies.
//
// Thread safety: every function may be called from any thread. At most
// kMaxConcurrentHashes Argon2id computations run at once (each one holds its
// memory cost, 256 MiB at the default parameters); further callers wait.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/seal.h"  // Argon2Params

namespace medvault::auth {

inline constexpr size_t kMinPasswordSingleFactor = 15;  // code points
inline constexpr size_t kMinPasswordMultiFactor = 8;
inline constexpr size_t kMaxPassword = 256;  // code points; NIST asks for at least 64
inline constexpr int kMaxConcurrentHashes = 2;

// Why a password was refused. The UI shows a translated text per code;
// password_problem_code() gives the stable name ("too-short", ...).
enum class PasswordProblem {
  none,
  too_short,
  too_long,
  invalid_text,         // not UTF-8, or holds control characters
  dictionary_word,      // based on a (possibly reversed) dictionary word
  too_simple,           // systematic, too few different characters, palindrome
  contains_username,
  contains_context_word,  // full name, practice name, "medvault"
};

struct PasswordContext {
  std::string username;
  std::string full_name;
  std::string practice_name;
  bool multi_factor = false;  // true when a second factor is also required
};

struct PasswordVerdict {
  PasswordProblem problem = PasswordProblem::none;
  std::string reason;       // English, one sentence, safe to show (never echoes the password)
  size_t min_length = 0;    // the minimum that applied (for the UI's message)
  bool ok() const { return problem == PasswordProblem::none; }
};

std::string_view password_problem_code(PasswordProblem p);

PasswordVerdict check_password(std::string_view password, const PasswordContext& ctx);

// The parameters used for new hashes: MODERATE (256 MiB, ops 3), or
// crypto::Argon2Params::interactive() when MEDVAULT_TEST_FAST_KDF=1 (the same
// switch as the sealed master key; test suites only).
crypto::Argon2Params password_hash_params();

// Errc::invalid for a password that is not valid UTF-8 or larger than 4 KiB
// (check_password has already refused anything over kMaxPassword code
// points); Errc::internal if libsodium runs out of memory.
Result<std::string> hash_password(std::string_view password);
Result<std::string> hash_password(std::string_view password, const crypto::Argon2Params& params);

// True iff `password` matches `stored_hash` (comparison in constant time by
// libsodium). A malformed stored hash is Errc::integrity; a password that
// cannot be normalised is simply a mismatch.
Result<bool> verify_password(std::string_view stored_hash, std::string_view password);

// Spends the time and memory of one verification against a fixed hash, so an
// unknown user name costs what a wrong password costs. Always false.
bool verify_password_dummy(std::string_view password);

// True when `stored_hash` was made with other parameters than the current
// ones (or is not an Argon2id hash): rehash after the next successful login.
bool password_needs_rehash(std::string_view stored_hash);
bool password_needs_rehash(std::string_view stored_hash, const crypto::Argon2Params& params);

// NFKC normalisation (ICU). Errc::invalid if `text` is not valid UTF-8.
// Exposed for tests and for callers that compare user-typed names.
Result<std::string> nfkc(std::string_view text);

}  // namespace medvault::auth
