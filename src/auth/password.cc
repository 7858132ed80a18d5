#include "auth/password.h"

#include <pwquality.h>
#include <sodium.h>
#include <unicode/ustring.h>
#include <unicode/unorm2.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <semaphore>
#include <vector>

namespace medvault::auth {
namespace {

// Raw input bigger than this is refused before any processing: NFKC can
// expand a code point to at most 18, so no acceptable password is larger.
constexpr size_t kMaxRawBytes = 4 * kMaxPassword * 4;

std::counting_semaphore<kMaxConcurrentHashes> g_hash_slots(kMaxConcurrentHashes);

struct HashSlot {
  HashSlot() { g_hash_slots.acquire(); }
  ~HashSlot() { g_hash_slots.release(); }
};

void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  (void)ok;
}

// cracklib (behind libpwquality) keeps static state: one check at a time.
std::mutex g_pwquality_mu;

struct PwqDeleter {
  void operator()(pwquality_settings_t* p) const { pwquality_free_settings(p); }
};

std::string lower_ascii(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Words of a context string: split on anything that is not a letter or digit
// (bytes >= 0x80 count as letters, so accented names stay whole), lower-cased,
// at least 3 bytes long (shorter ones would refuse too many passwords).
void add_words(std::string_view text, std::vector<std::string>& out) {
  std::string cur;
  auto flush = [&] {
    if (cur.size() >= 3) out.push_back(lower_ascii(cur));
    cur.clear();
  };
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || std::isalnum(u)) cur.push_back(c);
    else flush();
  }
  flush();
}

PasswordVerdict verdict(PasswordProblem p, std::string reason, size_t min_length) {
  return PasswordVerdict{p, std::move(reason), min_length};
}

}  // namespace

Result<std::string> nfkc(std::string_view text) {
  if (text.size() > kMaxRawBytes) return make_error(Errc::invalid, "text too long");
  UErrorCode err = U_ZERO_ERROR;
  int32_t len16 = 0;
  u_strFromUTF8(nullptr, 0, &len16, text.data(), static_cast<int32_t>(text.size()), &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return make_error(Errc::invalid, "text is not valid UTF-8");
  std::u16string src(static_cast<size_t>(len16), u'\0');
  err = U_ZERO_ERROR;
  u_strFromUTF8(src.data(), len16, nullptr, text.data(), static_cast<int32_t>(text.size()), &err);
  if (U_FAILURE(err)) return make_error(Errc::invalid, "text is not valid UTF-8");

  const UNormalizer2* n2 = unorm2_getNFKCInstance(&err);
  if (U_FAILURE(err)) return make_error(Errc::internal, "Unicode normaliser unavailable");
  std::u16string norm(src.size() * 18 + 1, u'\0');
  int32_t nlen = unorm2_normalize(n2, src.data(), len16, norm.data(), static_cast<int32_t>(norm.size()), &err);
  if (U_FAILURE(err)) return make_error(Errc::invalid, "text cannot be normalised");

  int32_t len8 = 0;
  err = U_ZERO_ERROR;
  u_strToUTF8(nullptr, 0, &len8, norm.data(), nlen, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return make_error(Errc::invalid, "text cannot be normalised");
  std::string out(static_cast<size_t>(len8), '\0');
  err = U_ZERO_ERROR;
  u_strToUTF8(out.data(), len8, nullptr, norm.data(), nlen, &err);
  if (U_FAILURE(err)) return make_error(Errc::invalid, "text cannot be normalised");
  sodium_memzero(src.data(), src.size() * sizeof(char16_t));
  sodium_memzero(norm.data(), norm.size() * sizeof(char16_t));
  return out;
}

std::string_view password_problem_code(PasswordProblem p) {
  switch (p) {
    case PasswordProblem::none: return "ok";
    case PasswordProblem::too_short: return "too-short";
    case PasswordProblem::too_long: return "too-long";
    case PasswordProblem::invalid_text: return "invalid-text";
    case PasswordProblem::dictionary_word: return "dictionary-word";
    case PasswordProblem::too_simple: return "too-simple";
    case PasswordProblem::contains_username: return "contains-username";
    case PasswordProblem::contains_context_word: return "contains-context-word";
  }
  return "invalid-text";
}

PasswordVerdict check_password(std::string_view password, const PasswordContext& ctx) {
  const size_t min = ctx.multi_factor ? kMinPasswordMultiFactor : kMinPasswordSingleFactor;
  if (password.size() > kMaxRawBytes)
    return verdict(PasswordProblem::too_long, "The password is longer than 256 characters.", min);
  auto norm = nfkc(password);
  if (!norm.ok())
    return verdict(PasswordProblem::invalid_text, "The password is not valid text.", min);
  std::string pw = std::move(norm).value();
  struct Wipe {
    std::string& s;
    ~Wipe() { sodium_memzero(s.data(), s.size()); }
  } wipe{pw};

  size_t count = 0;
  for (int32_t i = 0; i < static_cast<int32_t>(pw.size());) {
    UChar32 c;
    U8_NEXT(pw.data(), i, static_cast<int32_t>(pw.size()), c);
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
      return verdict(PasswordProblem::invalid_text, "The password contains control characters.", min);
    ++count;
  }
  if (count < min)
    return verdict(PasswordProblem::too_short,
                   "The password must have at least " + std::to_string(min) + " characters.", min);
  if (count > kMaxPassword)
    return verdict(PasswordProblem::too_long, "The password is longer than 256 characters.", min);

  std::vector<std::string> words{"medvault"};
  add_words(ctx.full_name, words);
  add_words(ctx.practice_name, words);
  std::string bad_words;
  for (const auto& w : words) bad_words += w + " ";
  const std::string user = lower_ascii(ctx.username);

  std::unique_ptr<pwquality_settings_t, PwqDeleter> pwq(pwquality_default_settings());
  if (!pwq) return verdict(PasswordProblem::invalid_text, "The password could not be checked.", min);
  // No composition rules (NIST SP 800-63B-4 3.1.1.2): credits and classes
  // off, and our own length rule applies, so pwquality's is its lowest (6).
  // The system's /etc/security/pwquality.conf is deliberately not read.
  const std::pair<int, int> ints[] = {
      {PWQ_SETTING_MIN_LENGTH, 6},      {PWQ_SETTING_DIG_CREDIT, 0},
      {PWQ_SETTING_UP_CREDIT, 0},       {PWQ_SETTING_LOW_CREDIT, 0},
      {PWQ_SETTING_OTH_CREDIT, 0},      {PWQ_SETTING_MIN_CLASS, 0},
      {PWQ_SETTING_MAX_REPEAT, 0},      {PWQ_SETTING_MAX_CLASS_REPEAT, 0},
      {PWQ_SETTING_MAX_SEQUENCE, 0},    {PWQ_SETTING_GECOS_CHECK, 0},
      {PWQ_SETTING_DICT_CHECK, 1},      {PWQ_SETTING_USER_CHECK, 1},
      {PWQ_SETTING_USER_SUBSTR, 4},     {PWQ_SETTING_ENFORCING, 1},
      {PWQ_SETTING_LOCAL_USERS, 0},
  };
  for (auto [k, v] : ints) pwquality_set_int_value(pwq.get(), k, v);
  pwquality_set_str_value(pwq.get(), PWQ_SETTING_BAD_WORDS, bad_words.c_str());

  int rc = 0;
  std::string aux_text;
  {
    std::lock_guard lock(g_pwquality_mu);
    void* aux = nullptr;
    rc = pwquality_check(pwq.get(), pw.c_str(), nullptr, user.size() >= 3 ? user.c_str() : nullptr, &aux);
    // For PWQ_ERROR_CRACKLIB_CHECK, aux is cracklib's static message.
    if (rc == PWQ_ERROR_CRACKLIB_CHECK && aux) aux_text = static_cast<const char*>(aux);
  }
  if (rc >= 0) return verdict(PasswordProblem::none, "", min);
  switch (rc) {
    case PWQ_ERROR_USER_CHECK:
      return verdict(PasswordProblem::contains_username, "The password contains the user name.", min);
    case PWQ_ERROR_BAD_WORDS:
    case PWQ_ERROR_GECOS_CHECK:
      return verdict(PasswordProblem::contains_context_word,
                     "The password contains a name or a word tied to this service.", min);
    case PWQ_ERROR_CRACKLIB_CHECK:
      // Fail closed: a dictionary that cannot be loaded refuses the password.
      if (aux_text.empty() || aux_text.find("loading") != std::string::npos)
        return verdict(PasswordProblem::dictionary_word,
                       "The password could not be checked against the dictionary.", min);
      if (aux_text.find("dictionary") != std::string::npos)
        return verdict(PasswordProblem::dictionary_word, "The password is based on a dictionary word.", min);
      return verdict(PasswordProblem::too_simple, "The password is too simple or systematic.", min);
    case PWQ_ERROR_PALINDROME:
      return verdict(PasswordProblem::too_simple, "The password is a palindrome.", min);
    default:
      return verdict(PasswordProblem::too_simple, "The password is too simple or systematic.", min);
  }
}

crypto::Argon2Params password_hash_params() {
  const char* fast = std::getenv("MEDVAULT_TEST_FAST_KDF");
  if (fast && std::string_view(fast) == "1") return crypto::Argon2Params::interactive();
  return crypto::Argon2Params::moderate();
}

Result<std::string> hash_password(std::string_view password) {
  return hash_password(password, password_hash_params());
}

Result<std::string> hash_password(std::string_view password, const crypto::Argon2Params& params) {
  ensure_sodium();
  auto norm = nfkc(password);
  if (!norm.ok()) return make_error(Errc::invalid, "password is not valid text");
  std::string pw = std::move(norm).value();
  char out[crypto_pwhash_STRBYTES];
  int rc;
  {
    HashSlot slot;
    rc = crypto_pwhash_str(out, pw.data(), pw.size(), params.opslimit, params.memlimit);
  }
  sodium_memzero(pw.data(), pw.size());
  if (rc != 0) return make_error(Errc::internal, "password hashing failed (out of memory)");
  return std::string(out);
}

Result<bool> verify_password(std::string_view stored_hash, std::string_view password) {
  ensure_sodium();
  const std::string hash(stored_hash);
  if (hash.size() >= crypto_pwhash_STRBYTES || hash.rfind("$argon2id$", 0) != 0 ||
      crypto_pwhash_str_needs_rehash(hash.c_str(), crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN) < 0)
    return make_error(Errc::integrity, "stored password hash is malformed");
  auto norm = nfkc(password);
  if (!norm.ok()) {
    verify_password_dummy("");
    return false;
  }
  std::string pw = std::move(norm).value();
  int rc;
  {
    HashSlot slot;
    rc = crypto_pwhash_str_verify(hash.c_str(), pw.data(), pw.size());
  }
  sodium_memzero(pw.data(), pw.size());
  return rc == 0;
}

bool verify_password_dummy(std::string_view password) {
  static const std::string dummy = [] {
    ensure_sodium();
    unsigned char random[16];
    char text[2 * sizeof random + 1];
    randombytes_buf(random, sizeof random);
    sodium_bin2hex(text, sizeof text, random, sizeof random);
    auto h = hash_password(text, password_hash_params());
    sodium_memzero(text, sizeof text);
    return h.ok() ? h.value() : std::string();
  }();
  if (dummy.empty()) return false;
  (void)verify_password(dummy, password);
  return false;
}

bool password_needs_rehash(std::string_view stored_hash) {
  return password_needs_rehash(stored_hash, password_hash_params());
}

bool password_needs_rehash(std::string_view stored_hash, const crypto::Argon2Params& params) {
  ensure_sodium();
  const std::string hash(stored_hash);
  if (hash.rfind("$argon2id$", 0) != 0) return true;
  return crypto_pwhash_str_needs_rehash(hash.c_str(), params.opslimit, params.memlimit) != 0;
}

}  // namespace medvault::auth
