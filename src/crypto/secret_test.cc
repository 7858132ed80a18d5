#include "crypto/secret.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace medvault::crypto {
namespace {

const bool kSodiumReady = init();

bool all_zero(const uint8_t* p) {
  return std::all_of(p, p + SecretKey::kSize, [](uint8_t b) { return b == 0; });
}

std::array<uint8_t, 32> pattern(uint8_t seed) {
  std::array<uint8_t, 32> a{};
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(seed + i);
  return a;
}

TEST(CryptoSecretKey, InitSucceedsAndIsIdempotent) {
  EXPECT_TRUE(kSodiumReady);
  EXPECT_TRUE(init());
}

TEST(CryptoSecretKey, DefaultIsZero) {
  SecretKey k;
  ASSERT_NE(k.data(), nullptr);
  EXPECT_TRUE(all_zero(k.data()));
  EXPECT_EQ(k.bytes().size(), 32u);
}

TEST(CryptoSecretKey, RandomKeysDiffer) {
  auto a = SecretKey::random();
  auto b = SecretKey::random();
  EXPECT_FALSE(all_zero(a.data()));
  EXPECT_FALSE(std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin()));
}

TEST(CryptoSecretKey, FromBytesCopiesExactly) {
  auto p = pattern(7);
  auto k = SecretKey::from_bytes(p);
  EXPECT_TRUE(std::equal(p.begin(), p.end(), k.bytes().begin()));
}

TEST(CryptoSecretKey, CloneIsEqualButSeparateStorage) {
  auto a = SecretKey::from_bytes(pattern(1));
  auto b = a.clone();
  EXPECT_NE(a.data(), b.data());
  EXPECT_TRUE(std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin()));
  b.data()[0] ^= 0xff;  // changing the clone leaves the original alone
  EXPECT_EQ(a.data()[0], pattern(1)[0]);
}

TEST(CryptoSecretKey, MoveConstructionTransfersTheSlot) {
  auto a = SecretKey::from_bytes(pattern(3));
  const uint8_t* slot = a.data();
  SecretKey b(std::move(a));
  EXPECT_EQ(b.data(), slot);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): documented moved-from state
  auto p = pattern(3);
  EXPECT_TRUE(std::equal(p.begin(), p.end(), b.bytes().begin()));
}

TEST(CryptoSecretKey, MoveAssignmentReleasesAndZeroesTheOldSlot) {
  auto a = SecretKey::from_bytes(pattern(5));
  auto b = SecretKey::from_bytes(pattern(9));
  const uint8_t* old_b = b.data();
  b = std::move(a);
  auto p = pattern(5);
  EXPECT_TRUE(std::equal(p.begin(), p.end(), b.bytes().begin()));
  // White box: pool pages are never unmapped, so the released slot can be
  // inspected; it must have been wiped.
  EXPECT_TRUE(all_zero(old_b));
  SecretKey& self = b;
  b = std::move(self);  // self-move keeps the key
  EXPECT_TRUE(std::equal(p.begin(), p.end(), b.bytes().begin()));
}

TEST(CryptoSecretKey, SlotIsZeroedOnDestruction) {
  const uint8_t* slot = nullptr;
  {
    auto k = SecretKey::random();
    slot = k.data();
    ASSERT_FALSE(all_zero(slot));
  }
  EXPECT_TRUE(all_zero(slot));  // pool pages stay mapped (see above)
}

TEST(CryptoSecretKey, ReleasedSlotsAreReused) {
  std::set<const uint8_t*> first;
  {
    std::vector<SecretKey> keys;
    for (int i = 0; i < 5000; ++i) keys.push_back(SecretKey::random());
    for (const auto& k : keys) first.insert(k.data());
    EXPECT_EQ(first.size(), 5000u);  // live keys never share a slot
  }
  std::vector<SecretKey> again;
  for (int i = 0; i < 5000; ++i) again.emplace_back();
  size_t reused = 0, zero = 0;
  for (const auto& k : again) {
    reused += first.count(k.data());
    zero += all_zero(k.data()) ? 1 : 0;
  }
  EXPECT_EQ(reused, 5000u);
  EXPECT_EQ(zero, 5000u);
}

TEST(CryptoSecretKey, ConcurrentUseKeepsKeysIntact) {
  auto work = [](uint8_t seed, bool* ok) {
    std::vector<SecretKey> keys;
    for (int round = 0; round < 20; ++round) {
      for (int i = 0; i < 500; ++i) keys.push_back(SecretKey::from_bytes(pattern(seed)));
      for (const auto& k : keys) {
        auto p = pattern(seed);
        if (!std::equal(p.begin(), p.end(), k.bytes().begin())) *ok = false;
      }
      keys.clear();
    }
  };
  bool ok1 = true, ok2 = true;
  std::thread t1(work, 1, &ok1), t2(work, 101, &ok2);
  t1.join();
  t2.join();
  EXPECT_TRUE(ok1);
  EXPECT_TRUE(ok2);
}

// Whether mlock succeeds depends on RLIMIT_MEMLOCK, so the test checks that
// the answer is truthful: a locked pool shows up in the process's VmLck.
TEST(CryptoSecretKey, PoolLockStateIsTruthful) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer replaces mlock by a no-op that reports success";
#endif
  SecretKey k;
  if (!key_pool_locked()) GTEST_SKIP() << "mlock refused here (RLIMIT_MEMLOCK)";
  std::ifstream status("/proc/self/status");
  std::string line;
  long locked_kb = -1;
  while (std::getline(status, line))
    if (line.rfind("VmLck:", 0) == 0) locked_kb = std::stol(line.substr(6));
  EXPECT_GE(locked_kb, 64);
}

TEST(CryptoSecretString, HoldsTheText) {
  SecretString s("correct horse battery staple");
  EXPECT_EQ(s.view(), "correct horse battery staple");
  EXPECT_EQ(s.size(), 28u);
  EXPECT_FALSE(s.empty());
  SecretString e("");
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.view(), "");
  SecretString d;
  EXPECT_TRUE(d.empty());
}

TEST(CryptoSecretString, Moves) {
  SecretString a("alpha");
  SecretString b(std::move(a));
  EXPECT_EQ(b.view(), "alpha");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
  SecretString c("gamma");
  c = std::move(b);
  EXPECT_EQ(c.view(), "alpha");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace medvault::crypto
