// Secret material in locked memory.
//
// SecretKey holds exactly 32 bytes in a slot of a process-wide pool of
// mlock()ed pages (MADV_DONTDUMP, so keys stay out of core files). The slot is
// zeroed with sodium_memzero when the key is destroyed. Keys cannot be copied
// implicitly, printed or streamed; clone() is explicit.
//
// SecretString holds a passphrase or password the same way (sodium_malloc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace medvault::crypto {

// Must be called once before any other crypto function (sodium_init).
// Returns false if libsodium cannot be initialised.
bool init();

class SecretKey {
 public:
  static constexpr size_t kSize = 32;

  SecretKey();                      // all zero
  static SecretKey random();        // randombytes_buf
  static SecretKey from_bytes(std::span<const uint8_t> bytes);  // REQUIRES size()==32
  ~SecretKey();
  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;

  SecretKey clone() const;
  const uint8_t* data() const { return p_; }
  uint8_t* data() { return p_; }
  static constexpr size_t size() { return kSize; }
  std::span<const uint8_t> bytes() const { return {p_, kSize}; }

 private:
  uint8_t* p_ = nullptr;  // slot in the locked pool
};

// True when every page of the key pool could be mlock()ed (the doctor command
// reports it when RLIMIT_MEMLOCK is too low).
bool key_pool_locked();

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string_view s);
  ~SecretString();
  SecretString(SecretString&& other) noexcept;
  SecretString& operator=(SecretString&& other) noexcept;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;

  std::string_view view() const { return {p_, n_}; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }

 private:
  char* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace medvault::crypto
