#include "auth/totp.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>

namespace medvault::auth {
namespace {

// RFC 6238 appendix B: times and 8-digit codes for SHA-1, SHA-256, SHA-512.
struct Vector {
  int64_t time;
  const char* sha1;
  const char* sha256;
  const char* sha512;
};
constexpr Vector kRfc6238[] = {
    {59, "94287082", "46119246", "90693936"},
    {1111111109, "07081804", "68084774", "25091201"},
    {1111111111, "14050471", "67062674", "99943326"},
    {1234567890, "89005924", "91819424", "93441116"},
    {2000000000, "69279037", "90698825", "38618901"},
    {20000000000, "65353130", "77737706", "47863826"},
};
const std::string kSeed20 = "12345678901234567890";
const std::string kSeed32 = "12345678901234567890123456789012";
const std::string kSeed64 = "1234567890123456789012345678901234567890123456789012345678901234";

TEST(Totp, Rfc6238Vectors) {
  for (const auto& v : kRfc6238) {
    EXPECT_EQ(*totp_code(kSeed20, v.time, {8, 30, TotpAlgorithm::sha1}), v.sha1) << v.time;
    EXPECT_EQ(*totp_code(kSeed32, v.time, {8, 30, TotpAlgorithm::sha256}), v.sha256) << v.time;
    EXPECT_EQ(*totp_code(kSeed64, v.time, {8, 30, TotpAlgorithm::sha512}), v.sha512) << v.time;
    // 6 digits: the same truncated value modulo 10^6.
    EXPECT_EQ(*totp_code(kSeed20, v.time), std::string(v.sha1).substr(2)) << v.time;
  }
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 128> buf{};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  EXPECT_EQ(pclose(p), 0) << cmd;
  while (!out.empty() && (out.back() == '\n')) out.pop_back();
  return out;
}

// Cross-check with Debian's oathtool, an independent implementation.
TEST(Totp, MatchesOathtool) {
  const std::string secret = totp_new_secret();
  ASSERT_EQ(secret.size(), kTotpSecretBytes);
  const std::string b32 = base32_encode(secret);
  ASSERT_EQ(b32.size(), 32u);
  for (int64_t t : {int64_t{0}, int64_t{59}, int64_t{1700000000}, int64_t{1700000029}, int64_t{4102444800}}) {
    EXPECT_EQ(*totp_code(secret, t), run("oathtool --totp -b " + b32 + " --now @" + std::to_string(t))) << t;
    EXPECT_EQ(*totp_code(secret, t, {8, 30, TotpAlgorithm::sha256}),
              run("oathtool --totp=sha256 -d 8 -b " + b32 + " --now @" + std::to_string(t)))
        << t;
  }
}

TEST(Totp, CodeAcceptedOnceWithOneStepOfDrift) {
  const std::string secret = totp_new_secret();
  const int64_t now = 1700000015;  // step 56666667
  const int64_t step = totp_step(now);
  const std::string code = *totp_code(secret, now);

  auto r = totp_verify(secret, code, now, -1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, step);
  // The same code again, even within its window: refused.
  auto again = totp_verify(secret, code, now + 10, *r);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::unauthenticated);
  EXPECT_EQ(again.error().message, "code already used");

  // One step of drift either side.
  EXPECT_EQ(*totp_verify(secret, *totp_code(secret, now - 30), now, -1), step - 1);
  EXPECT_EQ(*totp_verify(secret, *totp_code(secret, now + 30), now, -1), step + 1);
  // Two steps old or ahead: refused.
  auto old = totp_verify(secret, *totp_code(secret, now - 60), now, -1);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().message, "wrong or expired code");
  EXPECT_FALSE(totp_verify(secret, *totp_code(secret, now + 60), now, -1).ok());

  // After a code of step+1 was used, the (older) code of the current step is refused.
  auto ahead = totp_verify(secret, *totp_code(secret, now + 30), now, step - 5);
  ASSERT_TRUE(ahead.ok());
  auto older = totp_verify(secret, code, now, *ahead);
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.error().message, "code already used");
}

TEST(Totp, WrongAndMalformedCodes) {
  const std::string secret = totp_new_secret();
  const int64_t now = 1700000000;
  std::string wrong = *totp_code(secret, now);
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  // (a wrong code could still match the neighbouring steps; practically never)
  auto r = totp_verify(secret, wrong, now, -1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unauthenticated);
  for (std::string_view bad : {"", "12345", "1234567", "12a456", " 123456", "１２３４５６"}) {
    auto m = totp_verify(secret, bad, now, -1);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.error().code, Errc::invalid) << bad;
  }
  EXPECT_FALSE(totp_code("", now).ok());
  EXPECT_FALSE(totp_code(secret, now, {5, 30, TotpAlgorithm::sha1}).ok());
}

TEST(Totp, Base32) {
  EXPECT_EQ(base32_encode("12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  EXPECT_EQ(*base32_decode("gezd gnbv gy3t qojq gezd gnbv gy3t qojq"), "12345678901234567890");
  EXPECT_EQ(base32_encode("f"), "MY");  // no padding
  EXPECT_EQ(*base32_decode("MY"), "f");
  EXPECT_FALSE(base32_decode("M1!").ok());
}

TEST(Totp, OtpauthUri) {
  const std::string uri = totp_uri("12345678901234567890", "Cabinet Rivoli: Paris", "j.dupont+1@x");
  EXPECT_EQ(uri,
            "otpauth://totp/Cabinet%20Rivoli%3A%20Paris:j.dupont%2B1%40x"
            "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=medvault&algorithm=SHA1&digits=6&period=30");
  EXPECT_NE(totp_uri("s", "P", "u", {8, 60, TotpAlgorithm::sha256}).find("algorithm=SHA256&digits=8&period=60"),
            std::string::npos);
}

// The SVG has the QR code's finder patterns where a reader looks for them:
// 7x7 dark rings at three corners, inside a 4-module quiet zone.
TEST(Totp, QrCodeSvg) {
  const std::string uri = totp_uri(totp_new_secret(), "Cabinet Rivoli", "jdupont");
  auto svg = qr_svg(uri);
  ASSERT_TRUE(svg.ok());
  const size_t at = svg->find("viewBox=\"0 0 ");
  ASSERT_NE(at, std::string::npos);
  const int size = std::atoi(svg->c_str() + at + 13);
  const int width = size - 8;
  EXPECT_EQ((width - 17) % 4, 0) << "QR width is 17 + 4 * version";
  EXPECT_GE(width, 21);
  auto dark = [&](int x, int y) {
    return svg->find("M" + std::to_string(x + 4) + "," + std::to_string(y + 4) + "h") != std::string::npos;
  };
  for (auto [ox, oy] : {std::pair{0, 0}, std::pair{width - 7, 0}, std::pair{0, width - 7}}) {
    for (int i = 0; i < 7; ++i) {
      EXPECT_TRUE(dark(ox + i, oy));
      EXPECT_TRUE(dark(ox + i, oy + 6));
      EXPECT_TRUE(dark(ox, oy + i));
      EXPECT_TRUE(dark(ox + 6, oy + i));
    }
    for (int i = 1; i < 6; ++i) EXPECT_FALSE(dark(ox + i, oy + 1));  // the light ring
    EXPECT_TRUE(dark(ox + 3, oy + 3));                                // the centre
  }
  EXPECT_EQ(qr_svg(std::string(8000, 'x')).error().code, Errc::too_large);
}

}  // namespace
}  // namespace medvault::auth
