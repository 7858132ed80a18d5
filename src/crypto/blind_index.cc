#include "crypto/blind_index.h"

#include <sodium.h>

#include "crypto/encoding.h"

namespace medvault::crypto {

namespace {

void update(crypto_generichash_state& st, std::string_view s) {
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

}  // namespace

// token = BLAKE2b-128 keyed by the blind-index key over
//   "medvault-bidx-v1" || field(type) || field(param) || field(value)
// (encoding.h), so no two (type, param, value) triples share an input.
// The value is hashed incrementally rather than copied into a buffer.
Token BlindIndexer::token(std::string_view type, std::string_view param, std::string_view value) const {
  static_assert(sizeof(Token) >= crypto_generichash_BYTES_MIN);
  crypto_generichash_state st;
  crypto_generichash_init(&st, key_.data(), SecretKey::kSize, sizeof(Token));
  std::string head = "medvault-bidx-v1";
  encoding::put_field(head, type);
  encoding::put_field(head, param);
  encoding::put_u64(head, value.size());
  update(st, head);
  update(st, value);
  Token t{};
  crypto_generichash_final(&st, t.data(), t.size());
  sodium_memzero(&st, sizeof st);
  return t;
}

}  // namespace medvault::crypto
