#include "crypto/aead.h"

#include <sodium.h>

#include "crypto/encoding.h"

namespace medvault::crypto {

namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kSealOverhead == 1 + kNonceSize + kTagSize);
static_assert(SecretKey::kSize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

const unsigned char* uc(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

Error auth_failed() { return make_error(Errc::integrity, "authentication failed"); }

// Checks the framing of a blob; the ciphertext part is authenticated by the
// caller's decryption.
bool well_formed(std::string_view blob, size_t min_plaintext) {
  return blob.size() >= kSealOverhead + min_plaintext && static_cast<uint8_t>(blob[0]) == kVersion;
}

}  // namespace

std::string seal(const SecretKey& key, std::string_view ad, std::string_view plaintext) {
  std::string out(kSealOverhead + plaintext.size(), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  o[0] = kVersion;
  randombytes_buf(o + 1, kNonceSize);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(o + 1 + kNonceSize, &clen, uc(plaintext), plaintext.size(),
                                             uc(ad), ad.size(), nullptr, o + 1, key.data());
  return out;
}

Result<std::string> open(const SecretKey& key, std::string_view ad, std::string_view blob) {
  if (!well_formed(blob, 0)) return auth_failed();
  std::string out(blob.size() - kSealOverhead, '\0');
  unsigned long long mlen = 0;
  const auto* b = uc(blob);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()), &mlen,
                                                 nullptr, b + 1 + kNonceSize, blob.size() - 1 - kNonceSize,
                                                 uc(ad), ad.size(), b + 1, key.data()) != 0)
    return auth_failed();
  return out;
}

std::string wrap_key(const SecretKey& kek, std::string_view ad, const SecretKey& key) {
  return seal(kek, ad, {reinterpret_cast<const char*>(key.data()), SecretKey::kSize});
}

// Decrypts straight into the locked key slot, so the key never passes
// through ordinary heap memory.
Result<SecretKey> unwrap_key(const SecretKey& kek, std::string_view ad, std::string_view blob) {
  if (blob.size() != kSealOverhead + SecretKey::kSize || !well_formed(blob, SecretKey::kSize))
    return auth_failed();
  SecretKey key;
  unsigned long long mlen = 0;
  const auto* b = uc(blob);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(key.data(), &mlen, nullptr, b + 1 + kNonceSize,
                                                 blob.size() - 1 - kNonceSize, uc(ad), ad.size(), b + 1,
                                                 kek.data()) != 0)
    return auth_failed();
  return key;
}

std::string record_ad(std::string_view type, std::string_view id, uint64_t version, uint64_t key_id) {
  std::string ad = "medvault-record-v1";
  ad.reserve(ad.size() + 32 + type.size() + id.size());
  encoding::put_field(ad, type);
  encoding::put_field(ad, id);
  encoding::put_u64(ad, version);
  encoding::put_u64(ad, key_id);
  return ad;
}

}  // namespace medvault::crypto
