#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <set>

#include "crypto/test_util.h"

namespace medvault::crypto {
namespace {

using testing::counting_key;
using testing::from_hex;

const bool kSodiumReady = init();

TEST(CryptoAead, RoundTrips) {
  ASSERT_TRUE(kSodiumReady);
  auto key = SecretKey::random();
  for (std::string pt : {std::string(), std::string("x"), std::string(1000, 'a'), std::string(1 << 20, '\0')}) {
    auto blob = seal(key, "ad", pt);
    EXPECT_EQ(blob.size(), pt.size() + kSealOverhead);
    EXPECT_EQ(blob[0], 1);  // format version
    auto back = open(key, "ad", blob);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, pt);
  }
}

TEST(CryptoAead, NoncesAreFresh) {
  auto key = SecretKey::random();
  std::set<std::string> nonces;
  for (int i = 0; i < 100; ++i) nonces.insert(seal(key, "", "same").substr(1, 24));
  EXPECT_EQ(nonces.size(), 100u);
}

TEST(CryptoAead, PlaintextDoesNotAppearInBlob) {
  auto key = SecretKey::random();
  std::string pt = "Jeanne Dupont, born 1961-04-02, NIR 2610475123456";
  auto blob = seal(key, "ad", pt);
  EXPECT_EQ(blob.find("Dupont"), std::string::npos);
  EXPECT_EQ(blob.find("1961"), std::string::npos);
}

TEST(CryptoAead, EveryFlippedBitFails) {
  auto key = SecretKey::random();
  auto blob = seal(key, "Patient/1", "short record");
  for (size_t bit = 0; bit < blob.size() * 8; ++bit) {
    auto bad = blob;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    auto r = open(key, "Patient/1", bad);
    ASSERT_FALSE(r.ok()) << "bit " << bit;
    EXPECT_EQ(r.error().code, Errc::integrity);
    EXPECT_EQ(r.error().message, "authentication failed");
  }
}

TEST(CryptoAead, EveryTruncationAndExtensionFails) {
  auto key = SecretKey::random();
  auto blob = seal(key, "ad", "some bytes");
  for (size_t n = 0; n < blob.size(); ++n) EXPECT_FALSE(open(key, "ad", blob.substr(0, n)).ok()) << n;
  EXPECT_FALSE(open(key, "ad", blob + "x").ok());
  EXPECT_FALSE(open(key, "ad", blob.substr(1)).ok());
}

TEST(CryptoAead, WrongKeyOrAdFails) {
  auto key = SecretKey::random();
  auto blob = seal(key, "Patient/1", "record");
  EXPECT_FALSE(open(SecretKey::random(), "Patient/1", blob).ok());
  EXPECT_FALSE(open(key, "Patient/2", blob).ok());
  EXPECT_FALSE(open(key, "", blob).ok());
  EXPECT_FALSE(open(key, std::string("Patient/1\0", 10), blob).ok());
  auto e = open(key, "Patient/2", blob);
  EXPECT_EQ(e.error().code, Errc::integrity);
}

TEST(CryptoAead, UnknownVersionFails) {
  auto key = SecretKey::random();
  auto blob = seal(key, "", "x");
  for (int v : {0, 2, 255}) {
    auto bad = blob;
    bad[0] = static_cast<char>(v);
    EXPECT_FALSE(open(key, "", bad).ok());
  }
}

TEST(CryptoAead, RecordAdBindsEveryField) {
  auto key = SecretKey::random();
  auto blob = seal(key, record_ad("Patient", "p1", 3, 7), "{}");
  EXPECT_TRUE(open(key, record_ad("Patient", "p1", 3, 7), blob).ok());
  EXPECT_FALSE(open(key, record_ad("Observation", "p1", 3, 7), blob).ok());
  EXPECT_FALSE(open(key, record_ad("Patient", "p2", 3, 7), blob).ok());
  EXPECT_FALSE(open(key, record_ad("Patient", "p1", 4, 7), blob).ok());
  EXPECT_FALSE(open(key, record_ad("Patient", "p1", 3, 8), blob).ok());
  // Swapped fields.
  EXPECT_FALSE(open(key, record_ad("p1", "Patient", 3, 7), blob).ok());
  EXPECT_FALSE(open(key, record_ad("Patient", "p1", 7, 3), blob).ok());
}

TEST(CryptoAead, RecordAdIsUnambiguous) {
  struct In {
    std::string type, id;
    uint64_t version, key_id;
  };
  std::vector<In> inputs = {
      {"Patient", "1", 1, 2},  {"Patient1", "", 1, 2},  {"Patien", "t1", 1, 2},
      {"", "Patient1", 1, 2},  {"Patient", "1", 2, 1},  {"Patient", "1", 1, 2 + (uint64_t{1} << 32)},
      {"Patient", "1", 0, 0},  {"Patient", "", 0, 0},  {"", "", 0, 0},
      {std::string("Patient\0", 8), "1", 1, 2},  {"Patient", std::string("\x01\0", 2), 1, 2},
      {"Patient", "1", uint64_t(-1), 2},
  };
  std::set<std::string> ads;
  for (const auto& i : inputs) {
    auto ad = record_ad(i.type, i.id, i.version, i.key_id);
    EXPECT_EQ(ad.rfind("medvault-record-v1", 0), 0u);
    ads.insert(ad);
  }
  EXPECT_EQ(ads.size(), inputs.size());
  EXPECT_EQ(record_ad("Patient", "1", 1, 2), record_ad("Patient", "1", 1, 2));
}

// Vectors computed independently (Python hashlib + PyNaCl) from
// docs/formats/crypto.md; they pin the formats across versions.
TEST(CryptoAead, GoldenRecordAdAndBlob) {
  auto ad = record_ad("Patient", "p-1", 3, 42);
  EXPECT_EQ(testing::to_hex(ad),
            "6d65647661756c742d7265636f72642d7631070000000000000050617469656e740300000000000000702d3103000000"
            "000000002a00000000000000");
  auto blob = from_hex(
      "016465666768696a6b6c6d6e6f707172737475767778797a7b07518bd58c41fcf0e455c946d60a9ff379eb33058d49a4c4"
      "ae2866f6ca9bf9fac6fededf05525e9172d3");
  auto pt = open(counting_key(), ad, blob);
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(*pt, R"({"resourceType":"Patient"})");
}

TEST(CryptoAead, WrapUnwrapKey) {
  auto kek = SecretKey::random();
  auto dek = SecretKey::random();
  auto w = wrap_key(kek, "dek 1", dek);
  EXPECT_EQ(w.size(), kSealOverhead + 32);
  auto back = unwrap_key(kek, "dek 1", w);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(std::equal(dek.bytes().begin(), dek.bytes().end(), back->bytes().begin()));
  EXPECT_FALSE(unwrap_key(kek, "dek 2", w).ok());
  EXPECT_FALSE(unwrap_key(SecretKey::random(), "dek 1", w).ok());
  EXPECT_EQ(unwrap_key(kek, "dek 2", w).error().code, Errc::integrity);
  // A valid blob of the wrong length is not a key.
  EXPECT_FALSE(unwrap_key(kek, "dek 1", seal(kek, "dek 1", std::string(31, 'k'))).ok());
  EXPECT_FALSE(unwrap_key(kek, "dek 1", seal(kek, "dek 1", std::string(33, 'k'))).ok());
  for (size_t bit = 0; bit < w.size() * 8; ++bit) {
    auto bad = w;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_FALSE(unwrap_key(kek, "dek 1", bad).ok()) << bit;
  }
}

}  // namespace
}  // namespace medvault::crypto
