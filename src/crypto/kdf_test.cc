#include "crypto/kdf.h"

#include <gtest/gtest.h>

#include <set>

#include "crypto/test_util.h"

namespace medvault::crypto {
namespace {

const bool kSodiumReady = init();

std::string hex(const SecretKey& k) { return testing::to_hex(k.bytes()); }

TEST(CryptoKdf, DeterministicAndSeparated) {
  ASSERT_TRUE(kSodiumReady);
  auto master = SecretKey::random();
  std::set<std::string> seen;
  for (auto id : {SubKey::kek_wrap, SubKey::blind_index, SubKey::audit_mac, SubKey::session,
                  SubKey::audit_detail, SubKey::audit_signing}) {
    EXPECT_EQ(hex(derive(master, id)), hex(derive(master, id)));
    seen.insert(hex(derive(master, id)));
  }
  seen.insert(hex(master));
  EXPECT_EQ(seen.size(), 7u);  // every sub-key differs from the others and from the master
  EXPECT_NE(hex(derive(master, SubKey::session)), hex(derive(SecretKey::random(), SubKey::session)));
}

// BLAKE2b(key = master, salt = id LE || 0^8, personal = "medvault" || 0^8),
// computed independently with Python's hashlib.
TEST(CryptoKdf, GoldenVectors) {
  auto master = testing::counting_key();
  EXPECT_EQ(hex(derive(master, SubKey::kek_wrap)), "0cdf08d097e5efad90f2910d15ed234790c53fd19b4c41d0ce6fa9c7eb317791");
  EXPECT_EQ(hex(derive(master, SubKey::blind_index)),
            "307421530db696131e4214603c45ef547e7237c1b44e85ec43794afb75c3ca88");
  EXPECT_EQ(hex(derive(master, SubKey::audit_signing)),
            "4f01933ca0502d121be0940a28d56c4f2b8a6d4c8c0538eb58e3a9aae7d87fe8");
}

}  // namespace
}  // namespace medvault::crypto
