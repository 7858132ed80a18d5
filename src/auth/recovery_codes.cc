#include "auth/recovery_codes.h"

#include <sodium.h>

#include <cctype>

namespace medvault::auth {
namespace {

constexpr std::string_view kAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";  // 32 letters
constexpr size_t kCodeChars = 12;
// Domain separation: the key may also hash API tokens (vault/accounts.cc).
constexpr std::string_view kDomain = "medvault recovery code v1";

Result<std::string> normalise(std::string_view code) {
  if (code.size() > 64) return make_error(Errc::invalid, "malformed recovery code");
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (kAlphabet.find(u) == std::string_view::npos || u == '\0')
      return make_error(Errc::invalid, "malformed recovery code");
    out.push_back(u);
  }
  if (out.size() != kCodeChars) return make_error(Errc::invalid, "malformed recovery code");
  return out;
}

std::string keyed_hash_hex(const crypto::SecretKey& key, std::string_view normalised) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), key.size(), 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kDomain.data()), kDomain.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(normalised.data()), normalised.size());
  unsigned char h[32];
  crypto_generichash_final(&st, h, sizeof h);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string(hex, 64);
}

}  // namespace

RecoveryCodes generate_recovery_codes(const crypto::SecretKey& key, int count) {
  RecoveryCodes out;
  if (sodium_init() < 0) return out;
  for (int i = 0; i < count; ++i) {
    std::string raw;
    for (size_t j = 0; j < kCodeChars; ++j) raw.push_back(kAlphabet[randombytes_uniform(kAlphabet.size())]);
    out.hashes.push_back(keyed_hash_hex(key, raw));
    out.codes.push_back(raw.substr(0, 4) + "-" + raw.substr(4, 4) + "-" + raw.substr(8, 4));
    sodium_memzero(raw.data(), raw.size());
  }
  return out;
}

Result<std::string> hash_recovery_code(const crypto::SecretKey& key, std::string_view code) {
  MV_ASSIGN(std::string n, normalise(code));
  return keyed_hash_hex(key, n);
}

Result<size_t> consume_recovery_code(const crypto::SecretKey& key, std::string_view code,
                                     std::vector<std::string>& stored) {
  MV_ASSIGN(std::string h, hash_recovery_code(key, code));
  size_t found = stored.size();
  for (size_t i = 0; i < stored.size(); ++i) {
    const bool eq = stored[i].size() == h.size() && sodium_memcmp(stored[i].data(), h.data(), h.size()) == 0;
    if (eq && found == stored.size()) found = i;
  }
  if (found == stored.size()) return make_error(Errc::unauthenticated, "unknown or already used recovery code");
  stored.erase(stored.begin() + static_cast<std::ptrdiff_t>(found));
  return stored.size();
}

}  // namespace medvault::auth
