// Content-defined chunking for backups: FastCDC (Xia et al., USENIX ATC
// 2016) with normalised chunking. A cut point depends only on the bytes
// around it, so an insertion or deletion in the vault file moves the
// boundaries of the chunks it touches and no others: the rest are stored once
// and reused by every later backup.
//
// The gear table is derived from a per-vault key, so the chunk lengths (which
// the off-site host sees) do not reveal the content through a public table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/secret.h"

namespace medvault::backup {

struct ChunkerParams {
  size_t min_size = 256 * 1024;
  size_t avg_size = 1024 * 1024;  // a power of two
  size_t max_size = 4 * 1024 * 1024;
};

// Splits a stream of bytes into chunks. Not thread-safe. The chunks of a
// stream do not depend on how the stream is cut into add() calls.
class Chunker {
 public:
  using Emit = std::function<Status(std::string_view chunk)>;
  // REQUIRES 64 <= min_size < avg_size < max_size, avg_size a power of two.
  Chunker(const ChunkerParams& params, const crypto::SecretKey& gear_key, Emit emit);

  // Feeds bytes; emits every chunk whose end is decided. An error from emit
  // is returned and the chunker must not be used further.
  Status add(std::string_view bytes);
  // Emits what is left (the last chunk may be shorter than min_size).
  Status finish();

  // Length of the first chunk of data[0..n) when n bytes are all there is
  // (n <= max_size) or when more follow (n == max_size).
  size_t cut(const uint8_t* data, size_t n) const;

 private:
  ChunkerParams p_;
  uint64_t mask_small_ = 0, mask_large_ = 0;
  std::array<uint64_t, 256> gear_{};
  Emit emit_;
  std::string buf_;
  size_t start_ = 0;  // first unemitted byte of buf_
};

}  // namespace medvault::backup
