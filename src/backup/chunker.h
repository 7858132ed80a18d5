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
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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

// A Chunker on a thread of its own, fed through a bounded queue, so that the
// feeding thread's work (the store's snapshot copy) overlaps chunking and
// whatever emit does (keyed hashing, handing chunks to the compressors).
// add() copies the bytes into blocks of `block` bytes and queues each full
// one, waiting while `depth` are queued: at most (depth + 1) * block bytes
// wait between the threads. Emits exactly the chunks a Chunker would, in
// order, all on the chunking thread. The first error of emit stops that
// thread; the next add() and finish() return it. One feeding thread.
class ThreadedChunker {
 public:
  ThreadedChunker(const ChunkerParams& params, const crypto::SecretKey& gear_key, Chunker::Emit emit,
                  size_t block = 1 << 20, size_t depth = 4);
  // Stops the thread (what was not finish()ed is dropped) and joins it.
  ~ThreadedChunker();
  ThreadedChunker(const ThreadedChunker&) = delete;
  ThreadedChunker& operator=(const ThreadedChunker&) = delete;

  // Errc::internal if the thread cannot be started.
  Status add(std::string_view bytes);
  // Queues the rest, waits until every chunk is emitted, joins the thread.
  // Call once; after it, emit has returned for the last time.
  Status finish();

 private:
  void run();
  Status hand_over();  // queues fill_; REQUIRES the thread started
  void stop();

  Chunker chunker_;  // used by the thread only
  const size_t block_, depth_;
  std::string fill_;  // the block being filled (feeding thread)
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;    // GUARDED_BY(mu_)
  std::vector<std::string> spare_;   // GUARDED_BY(mu_): emptied blocks, reused
  bool closed_ = false;              // GUARDED_BY(mu_): no more blocks
  bool stopping_ = false;            // GUARDED_BY(mu_): drop the rest
  std::optional<Error> error_;       // GUARDED_BY(mu_)
};

}  // namespace medvault::backup
