// Helpers shared by the crypto module's tests (not part of mv_crypto).
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "crypto/secret.h"

namespace medvault::crypto::testing {

inline std::string from_hex(std::string_view hex) {
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(), hex.size(), nullptr,
                 &len, nullptr);
  out.resize(len);
  return out;
}

inline std::string to_hex(std::string_view bin) {
  std::string out(bin.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()), bin.size());
  out.pop_back();
  return out;
}

inline std::string to_hex(std::span<const uint8_t> bin) {
  return to_hex(std::string_view(reinterpret_cast<const char*>(bin.data()), bin.size()));
}

// The key 00 01 02 ... 1f used by the golden vectors.
inline SecretKey counting_key(uint8_t first = 0) {
  std::array<uint8_t, 32> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(first + i);
  return SecretKey::from_bytes(b);
}

}  // namespace medvault::crypto::testing
