// Internal to the crypto module: the unambiguous byte encodings used for
// associated data, blind-index inputs and seal-file checksums
// (docs/formats/crypto.md). A field is its length as 8 bytes little-endian
// followed by its bytes; an integer is 8 bytes little-endian. Since every
// variable-length field carries its length, distinct field lists never encode
// to the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace medvault::crypto::encoding {

inline void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline void put_field(std::string& out, std::string_view field) {
  put_u64(out, field.size());
  out.append(field);
}

}  // namespace medvault::crypto::encoding
