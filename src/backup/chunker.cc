#include "backup/chunker.h"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstdlib>

namespace medvault::backup {
namespace {

// FastCDC masks: avg_size = 2^bits; the small mask (used before the average
// size) has two more one-bits, the large one two fewer ("normalised chunking
// level 2"), which narrows the size distribution. The one-bits are the high
// bits of the gear hash, which depend on the most recent 64 bytes.
uint64_t high_bits(int n) { return n <= 0 ? 0 : (~uint64_t{0}) << (64 - n); }

}  // namespace

Chunker::Chunker(const ChunkerParams& params, const crypto::SecretKey& gear_key, Emit emit)
    : p_(params), emit_(std::move(emit)) {
  if (p_.min_size < 64 || p_.min_size >= p_.avg_size || p_.avg_size >= p_.max_size ||
      !std::has_single_bit(p_.avg_size))
    std::abort();  // REQUIRES, documented in the header
  const int bits = std::countr_zero(p_.avg_size);
  mask_small_ = high_bits(bits + 2);
  mask_large_ = high_bits(bits - 2);
  // gear[i] = first 8 bytes of BLAKE2b(u64(i); key): a per-vault table.
  for (uint64_t i = 0; i < 256; ++i) {
    unsigned char in[8], out[8];
    for (int b = 0; b < 8; ++b) in[b] = static_cast<unsigned char>(i >> (8 * b));
    crypto_generichash(out, sizeof out, in, sizeof in, gear_key.data(), crypto::SecretKey::kSize);
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v |= uint64_t{out[b]} << (8 * b);
    gear_[i] = v;
  }
}

size_t Chunker::cut(const uint8_t* data, size_t n) const {
  if (n <= p_.min_size) return n;
  if (n > p_.max_size) n = p_.max_size;
  const size_t normal = n < p_.avg_size ? n : p_.avg_size;
  uint64_t fp = 0;
  size_t i = p_.min_size;
  for (; i < normal; ++i) {
    fp = (fp << 1) + gear_[data[i]];
    if ((fp & mask_small_) == 0) return i + 1;
  }
  for (; i < n; ++i) {
    fp = (fp << 1) + gear_[data[i]];
    if ((fp & mask_large_) == 0) return i + 1;
  }
  return n;
}

Status Chunker::add(std::string_view bytes) {
  buf_.append(bytes);
  // A cut is decided once max_size bytes are buffered: no later byte can move it.
  while (buf_.size() - start_ >= p_.max_size) {
    const auto* d = reinterpret_cast<const uint8_t*>(buf_.data()) + start_;
    size_t len = cut(d, p_.max_size);
    MV_TRY(emit_({buf_.data() + start_, len}));
    start_ += len;
  }
  if (start_ > p_.max_size) {  // keep the buffer bounded (about 2 * max_size)
    buf_.erase(0, start_);
    start_ = 0;
  }
  return ok_status();
}

Status Chunker::finish() {
  while (start_ < buf_.size()) {
    const auto* d = reinterpret_cast<const uint8_t*>(buf_.data()) + start_;
    size_t len = cut(d, buf_.size() - start_);
    MV_TRY(emit_({buf_.data() + start_, len}));
    start_ += len;
  }
  buf_.clear();
  start_ = 0;
  return ok_status();
}

// ---- ThreadedChunker ---------------------------------------------------------

ThreadedChunker::ThreadedChunker(const ChunkerParams& params, const crypto::SecretKey& gear_key, Chunker::Emit emit,
                                 size_t block, size_t depth)
    : chunker_(params, gear_key, std::move(emit)), block_(std::max<size_t>(block, 1)), depth_(std::max<size_t>(depth, 1)) {}

ThreadedChunker::~ThreadedChunker() { stop(); }

void ThreadedChunker::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ThreadedChunker::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || closed_; });
    if (stopping_) return;
    if (queue_.empty()) {  // closed: the stream is complete
      lock.unlock();
      Status st = chunker_.finish();
      lock.lock();
      if (!st.ok() && !error_) error_ = st.error();
      return;
    }
    std::string b = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();  // room in the queue
    Status st = chunker_.add(b);
    b.clear();
    lock.lock();
    if (!st.ok()) {
      error_ = st.error();
      cv_.notify_all();
      return;
    }
    spare_.push_back(std::move(b));
  }
}

Status ThreadedChunker::hand_over() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return error_ || queue_.size() < depth_; });
  if (error_) return *error_;
  queue_.push_back(std::move(fill_));
  if (!spare_.empty()) {
    fill_ = std::move(spare_.back());
    spare_.pop_back();
  } else {
    fill_ = std::string();
  }
  lock.unlock();
  cv_.notify_all();
  return ok_status();
}

Status ThreadedChunker::add(std::string_view bytes) {
  if (!thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || stopping_) return make_error(Errc::internal, "chunker: add after finish");
    }
    try {
      thread_ = std::thread(&ThreadedChunker::run, this);
    } catch (const std::exception&) {  // std::system_error: no thread
      return make_error(Errc::internal, "cannot start the chunking thread");
    }
  }
  while (!bytes.empty()) {
    if (fill_.capacity() < block_) fill_.reserve(block_);
    const size_t n = std::min(bytes.size(), block_ - fill_.size());
    fill_.append(bytes.data(), n);
    bytes.remove_prefix(n);
    if (fill_.size() == block_) MV_TRY(hand_over());
  }
  return ok_status();
}

Status ThreadedChunker::finish() {
  if (!thread_.joinable()) {  // nothing was added (or finish twice): chunk inline
    std::lock_guard<std::mutex> lock(mu_);
    if (error_) return *error_;
    if (closed_) return ok_status();
    closed_ = true;
    if (!fill_.empty()) MV_TRY(chunker_.add(fill_));
    return chunker_.finish();
  }
  if (!fill_.empty()) {
    if (auto st = hand_over(); !st.ok()) {
      stop();
      return st;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (error_) return *error_;
  return ok_status();
}

}  // namespace medvault::backup
