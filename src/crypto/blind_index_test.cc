#include "crypto/blind_index.h"

#include <gtest/gtest.h>

#include <set>

#include "crypto/test_util.h"

namespace medvault::crypto {
namespace {

const bool kSodiumReady = init();

TEST(CryptoBlindIndex, DeterministicAndKeyDependent) {
  ASSERT_TRUE(kSodiumReady);
  auto key = SecretKey::random();
  BlindIndexer a(key.clone()), a2(key.clone()), b(SecretKey::random());
  EXPECT_EQ(a.token("Patient", "family", "dupont"), a.token("Patient", "family", "dupont"));
  EXPECT_EQ(a.token("Patient", "family", "dupont"), a2.token("Patient", "family", "dupont"));
  EXPECT_NE(a.token("Patient", "family", "dupont"), b.token("Patient", "family", "dupont"));
  EXPECT_NE(a.token("Patient", "family", "dupont"), a.token("Patient", "family", "dupond"));
}

TEST(CryptoBlindIndex, TypeParamAndValueAreSeparated) {
  BlindIndexer ix(SecretKey::random());
  std::vector<std::array<std::string, 3>> inputs = {
      {"Patient", "family", "dupont"},  {"Practitioner", "family", "dupont"},
      {"Patient", "given", "dupont"},   {"Patient", "familyd", "upont"},
      {"Patient", "famil", "ydupont"},  {"Patientfamily", "", "dupont"},
      {"", "Patientfamily", "dupont"},  {"Patient", "family", ""},
      {"", "", ""},                     {"Patient", "family", std::string("dupont\0", 7)},
      {"family", "Patient", "dupont"},
  };
  std::set<Token> tokens;
  for (const auto& i : inputs) tokens.insert(ix.token(i[0], i[1], i[2]));
  EXPECT_EQ(tokens.size(), inputs.size());
}

// BLAKE2b-128 keyed by 00..1f over "medvault-bidx-v1" and the three
// length-prefixed fields, computed independently with Python's hashlib.
TEST(CryptoBlindIndex, GoldenVector) {
  BlindIndexer ix(testing::counting_key());
  auto t = ix.token("Patient", "family", "dupont");
  EXPECT_EQ(testing::to_hex(t), "755743fbb6a7c2648b628c42718f33f0");
}

}  // namespace
}  // namespace medvault::crypto
