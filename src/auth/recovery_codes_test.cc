#include "auth/recovery_codes.h"

#include <gtest/gtest.h>

#include <set>

namespace medvault::auth {
namespace {

class RecoveryCodesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(crypto::init()); }
  crypto::SecretKey key_ = crypto::SecretKey::random();
};

TEST_F(RecoveryCodesTest, TenDistinctUnambiguousCodes) {
  const RecoveryCodes rc = generate_recovery_codes(key_);
  ASSERT_EQ(rc.codes.size(), 10u);
  ASSERT_EQ(rc.hashes.size(), 10u);
  const std::string_view alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
  auto well_formed = [&](const std::string& c) {
    if (c.size() != 14 || c[4] != '-' || c[9] != '-') return false;
    for (size_t i = 0; i < c.size(); ++i)
      if (i != 4 && i != 9 && alphabet.find(c[i]) == std::string_view::npos) return false;
    return true;
  };
  std::set<std::string> seen;
  std::set<char> letters;
  for (size_t i = 0; i < rc.codes.size(); ++i) {
    EXPECT_TRUE(well_formed(rc.codes[i])) << rc.codes[i];
    EXPECT_EQ(rc.hashes[i].size(), 64u);
    // Only the hash is stored: it does not contain the code.
    EXPECT_EQ(rc.hashes[i].find(rc.codes[i].substr(0, 4)), std::string::npos);
    EXPECT_EQ(*hash_recovery_code(key_, rc.codes[i]), rc.hashes[i]);
    seen.insert(rc.codes[i]);
    for (char c : rc.codes[i]) letters.insert(c);
  }
  EXPECT_EQ(seen.size(), 10u);
  for (char c : std::string("01OI")) EXPECT_EQ(letters.count(c), 0u);
}

TEST_F(RecoveryCodesTest, EachCodeWorksOnce) {
  const RecoveryCodes rc = generate_recovery_codes(key_);
  std::vector<std::string> stored = rc.hashes;
  auto r = consume_recovery_code(key_, rc.codes[3], stored);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 9u);
  EXPECT_EQ(stored.size(), 9u);
  auto again = consume_recovery_code(key_, rc.codes[3], stored);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::unauthenticated);
  EXPECT_EQ(again.error().message, "unknown or already used recovery code");
  // Typed in lower case, without hyphens, with spaces: the same code.
  std::string typed;
  for (char c : rc.codes[7])
    if (c != '-') typed.push_back(static_cast<char>(std::tolower(c)));
  typed.insert(6, " ");
  EXPECT_EQ(*consume_recovery_code(key_, typed, stored), 8u);
  for (size_t i : {0u, 1u, 2u, 4u, 5u, 6u, 8u, 9u}) ASSERT_TRUE(consume_recovery_code(key_, rc.codes[i], stored).ok());
  EXPECT_TRUE(stored.empty());
}

TEST_F(RecoveryCodesTest, OtherKeyOrOtherUserRefused) {
  const RecoveryCodes rc = generate_recovery_codes(key_);
  std::vector<std::string> stored = rc.hashes;
  const crypto::SecretKey other = crypto::SecretKey::random();
  EXPECT_FALSE(consume_recovery_code(other, rc.codes[0], stored).ok());
  const RecoveryCodes someone_else = generate_recovery_codes(key_);
  EXPECT_FALSE(consume_recovery_code(key_, someone_else.codes[0], stored).ok());
  EXPECT_EQ(stored.size(), 10u);
}

TEST_F(RecoveryCodesTest, MalformedCodes) {
  std::vector<std::string> stored = generate_recovery_codes(key_).hashes;
  for (std::string_view bad : std::initializer_list<std::string_view>{"", "ABCD-EFGH-JKL", "ABCD-EFGH-JKLMN", "ABCD-EFGH-JK0M", "ABCD-EFGH-JKIM",
                               "ABCD_EFGH_JKLM", std::string_view("ABCD-EFGH-JK\0M", 14)}) {
    auto r = consume_recovery_code(key_, bad, stored);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid);
  }
  EXPECT_EQ(stored.size(), 10u);
}

}  // namespace
}  // namespace medvault::auth
