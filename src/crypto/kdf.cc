#include "crypto/kdf.h"

#include <sodium.h>

namespace medvault::crypto {

namespace {
constexpr char kContext[] = "medvault";
static_assert(sizeof kContext - 1 == crypto_kdf_CONTEXTBYTES);
static_assert(SecretKey::kSize == crypto_kdf_KEYBYTES);
}  // namespace

SecretKey derive(const SecretKey& master, SubKey id) {
  SecretKey out;
  crypto_kdf_derive_from_key(out.data(), SecretKey::kSize, static_cast<uint64_t>(id), kContext, master.data());
  return out;
}

}  // namespace medvault::crypto
