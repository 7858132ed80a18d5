#include "crypto/secret.h"

#include <sodium.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace medvault::crypto {

namespace {

// The process-wide pool of 32-byte key slots. Memory comes in chunks of
// kChunkSize bytes from mmap, each mlock()ed and excluded from core dumps.
// Chunks are never unmapped: a released slot is zeroed and goes back on the
// free list, so creating a key costs a mutex and a vector pop (thousands of
// per-patient data keys are created per second; sodium_malloc would cost two
// guard pages and several system calls each).
class KeyPool {
 public:
  static KeyPool& instance() {
    // Leaked on purpose: keys held by static objects may be destroyed after
    // any function-local static would be.
    static KeyPool* pool = new KeyPool;
    return *pool;
  }

  uint8_t* acquire() {
    std::lock_guard lock(mu_);
    if (free_.empty()) grow();
    uint8_t* p = free_.back();
    free_.pop_back();
    return p;
  }

  // Zeroes the slot before it can be handed out again.
  void release(uint8_t* p) {
    sodium_memzero(p, SecretKey::kSize);
    std::lock_guard lock(mu_);
    free_.push_back(p);
  }

  bool locked() {
    std::lock_guard lock(mu_);
    if (chunks_ == 0) grow();
    return all_locked_;
  }

 private:
  static constexpr size_t kChunkSize = 64 * 1024;  // 2048 keys
  static constexpr size_t kSlotsPerChunk = kChunkSize / SecretKey::kSize;

  // REQUIRES mu_ held.
  void grow() {
    void* m = ::mmap(nullptr, kChunkSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    // A pool that cannot be locked keeps working (key_pool_locked() reports
    // it, and `medvault doctor` tells the operator to raise RLIMIT_MEMLOCK).
    if (sodium_mlock(m, kChunkSize) != 0) all_locked_ = false;
#ifdef MADV_DONTDUMP
    ::madvise(m, kChunkSize, MADV_DONTDUMP);
#endif
    auto* base = static_cast<uint8_t*>(m);
    free_.reserve(free_.size() + kSlotsPerChunk);
    // Pushed in reverse so that slots are handed out in address order.
    for (size_t i = kSlotsPerChunk; i-- > 0;) free_.push_back(base + i * SecretKey::kSize);
    ++chunks_;
  }

  std::mutex mu_;
  std::vector<uint8_t*> free_;  // GUARDED_BY(mu_); every slot on it is zero
  size_t chunks_ = 0;           // GUARDED_BY(mu_)
  bool all_locked_ = true;      // GUARDED_BY(mu_)
};

}  // namespace

bool init() { return sodium_init() >= 0; }

bool key_pool_locked() { return KeyPool::instance().locked(); }

SecretKey::SecretKey() : p_(KeyPool::instance().acquire()) {}

SecretKey SecretKey::random() {
  SecretKey k;
  randombytes_buf(k.p_, kSize);
  return k;
}

SecretKey SecretKey::from_bytes(std::span<const uint8_t> bytes) {
  if (bytes.size() != kSize) std::abort();  // a programming error, never input
  SecretKey k;
  std::memcpy(k.p_, bytes.data(), kSize);
  return k;
}

SecretKey::~SecretKey() {
  if (p_ != nullptr) KeyPool::instance().release(p_);
}

// A moved-from key holds no slot: it may only be destroyed or assigned to.
SecretKey::SecretKey(SecretKey&& other) noexcept : p_(other.p_) { other.p_ = nullptr; }

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    if (p_ != nullptr) KeyPool::instance().release(p_);
    p_ = other.p_;
    other.p_ = nullptr;
  }
  return *this;
}

SecretKey SecretKey::clone() const {
  SecretKey k;
  std::memcpy(k.p_, p_, kSize);
  return k;
}

SecretString::SecretString(std::string_view s) : n_(s.size()) {
  // sodium_malloc needs sodium_init (page size); passphrases are rare, so the
  // idempotent call costs nothing that matters.
  if (sodium_init() < 0) throw std::bad_alloc();
  p_ = static_cast<char*>(sodium_malloc(n_ == 0 ? 1 : n_));
  if (p_ == nullptr) throw std::bad_alloc();
  if (n_ != 0) std::memcpy(p_, s.data(), n_);
}

SecretString::~SecretString() {
  if (p_ != nullptr) sodium_free(p_);  // zeroes before freeing
}

SecretString::SecretString(SecretString&& other) noexcept : p_(other.p_), n_(other.n_) {
  other.p_ = nullptr;
  other.n_ = 0;
}

SecretString& SecretString::operator=(SecretString&& other) noexcept {
  if (this != &other) {
    if (p_ != nullptr) sodium_free(p_);
    p_ = other.p_;
    n_ = other.n_;
    other.p_ = nullptr;
    other.n_ = 0;
  }
  return *this;
}

}  // namespace medvault::crypto
