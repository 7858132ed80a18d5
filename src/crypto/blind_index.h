// Keyed blind indexes: a search token is a 16-byte keyed BLAKE2b hash of
// (resource type, search parameter, normalised value). Equal values give equal
// tokens; without the key a token reveals nothing about the value. What each
// index leaks (equality and frequency within a parameter) is in
// docs/architecture.md.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "crypto/secret.h"

namespace medvault::crypto {

using Token = std::array<uint8_t, 16>;

class BlindIndexer {
 public:
  explicit BlindIndexer(SecretKey key) : key_(std::move(key)) {}
  Token token(std::string_view type, std::string_view param, std::string_view value) const;

 private:
  SecretKey key_;
};

}  // namespace medvault::crypto
