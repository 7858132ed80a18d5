// Authenticated encryption of records and of wrapped keys.
//
// Format of a sealed blob (docs/formats/crypto.md):
//   byte 0      format version (1)
//   bytes 1-24  random XChaCha20 nonce
//   bytes 25-   XChaCha20-Poly1305-IETF ciphertext with its 16-byte tag
// The associated data is supplied by the caller and is not stored.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/secret.h"

namespace medvault::crypto {

constexpr size_t kSealOverhead = 1 + 24 + 16;

// Encrypts `plaintext` under `key` with associated data `ad`.
std::string seal(const SecretKey& key, std::string_view ad, std::string_view plaintext);

// Decrypts; Errc::integrity if the blob was altered, truncated, has an unknown
// format version, or the associated data does not match. The error message is
// generic ("authentication failed"); callers add which record it was.
Result<std::string> open(const SecretKey& key, std::string_view ad, std::string_view blob);

// Key wrapping: seal() of a 32-byte key.
std::string wrap_key(const SecretKey& kek, std::string_view ad, const SecretKey& key);
Result<SecretKey> unwrap_key(const SecretKey& kek, std::string_view ad, std::string_view blob);

// Associated data of a stored record: binds the ciphertext to its resource
// type, logical id, version and data-key id, so ciphertexts cannot be swapped
// between records or versions.
std::string record_ad(std::string_view type, std::string_view id, uint64_t version,
                      uint64_t key_id);

}  // namespace medvault::crypto
