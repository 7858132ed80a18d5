#include "auth/password.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>

namespace medvault::auth {
namespace {

// The cheapest Argon2id parameters libsodium allows: these tests check
// behaviour, not cost.
const crypto::Argon2Params kFast{crypto_pwhash_OPSLIMIT_MIN, 8192 * 1024};

// Like the rest of the test suite: cheap Argon2id for hashes made with the
// default parameters (the dummy hash of verify_password_dummy among them).
const bool kFastKdf = ::setenv("MEDVAULT_TEST_FAST_KDF", "1", 1) == 0;

PasswordContext ctx(bool mfa = false) { return {"jdupont", "Jeanne Dupont", "Cabinet Rivoli", mfa}; }

PasswordProblem problem(std::string_view pw, bool mfa = false) { return check_password(pw, ctx(mfa)).problem; }

TEST(PasswordPolicy, LengthDependsOnTheNumberOfFactors) {
  EXPECT_EQ(problem("zx9!kq2#mw7@ab"), PasswordProblem::too_short);  // 14
  EXPECT_EQ(problem("zx9!kq2#mw7@abc"), PasswordProblem::none);      // 15
  EXPECT_EQ(problem("zx9!kq2#mw7@ab", true), PasswordProblem::none);
  EXPECT_EQ(problem("zx9!kq2", true), PasswordProblem::too_short);   // 7
  EXPECT_EQ(problem("zx9!kq2#", true), PasswordProblem::none);       // 8

  const auto v = check_password("zx9!kq2", ctx(true));
  EXPECT_EQ(v.min_length, 8u);
  EXPECT_EQ(v.reason, "The password must have at least 8 characters.");
  EXPECT_EQ(check_password("short", ctx()).reason, "The password must have at least 15 characters.");
}

TEST(PasswordPolicy, LengthIsCountedInCodePoints) {
  // 14 and 15 accented letters: 28 and 30 bytes of UTF-8.
  EXPECT_EQ(problem("çàéèùâêîôûëïüÿ"), PasswordProblem::too_short);
  EXPECT_EQ(problem("çàéèùâêîôûëïüÿœ"), PasswordProblem::none);

  // 256 pseudo-random characters (a repeated phrase would be "systematic").
  std::string longest;
  uint32_t x = 7;
  const std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 -";
  while (longest.size() < 256) {
    x = x * 1664525u + 1013904223u;
    longest.push_back(alphabet[(x >> 16) % alphabet.size()]);
  }
  EXPECT_EQ(problem(longest), PasswordProblem::none);
  EXPECT_EQ(problem(longest + "x"), PasswordProblem::too_long);
  // 256 two-byte characters are 512 bytes and still allowed.
  std::string accented;
  for (int i = 0; i < 64; ++i) accented += "éàüö";
  EXPECT_EQ(problem(accented.substr(0, 512)), PasswordProblem::none);
  EXPECT_EQ(problem(std::string(1 << 20, 'a')), PasswordProblem::too_long);
}

TEST(PasswordPolicy, NoCompositionRules) {
  // Lower-case letters and spaces only: accepted when long enough.
  EXPECT_EQ(problem("correct horse battery staple"), PasswordProblem::none);
  EXPECT_EQ(problem("été à la plage du nord"), PasswordProblem::none);
  // Digits and symbols do not rescue a short password.
  EXPECT_EQ(problem("Sunshine2024!"), PasswordProblem::too_short);
}

TEST(PasswordPolicy, DictionaryAndSimplePasswords) {
  EXPECT_EQ(problem("sunshine", true), PasswordProblem::dictionary_word);
  EXPECT_EQ(problem("abcdefghijklmnop"), PasswordProblem::too_simple);
  EXPECT_EQ(problem("password12345678"), PasswordProblem::too_simple);
  EXPECT_EQ(problem("aaaaaaaaaaaaaaaa"), PasswordProblem::too_simple);
}

TEST(PasswordPolicy, ContextWords) {
  EXPECT_EQ(problem("jdupont-likes-tea-a-lot"), PasswordProblem::contains_username);
  EXPECT_EQ(problem("tnopudj-sl-ongo-x"), PasswordProblem::contains_username);  // reversed
  EXPECT_EQ(problem("jeanne at the seaside"), PasswordProblem::contains_context_word);
  EXPECT_EQ(problem("rivoli avenue tea party"), PasswordProblem::contains_context_word);
  EXPECT_EQ(problem("my medvault login pw"), PasswordProblem::contains_context_word);
  EXPECT_EQ(problem("my MEDVAULT login pw"), PasswordProblem::contains_context_word);
  // Another user with other context words may use the same password.
  EXPECT_TRUE(check_password("jeanne at the seaside", {"mmartin", "Marc Martin", "Clinique Sud", false}).ok());
}

TEST(PasswordPolicy, InvalidText) {
  EXPECT_EQ(problem("\xff\xfe abcdefghijklmnopq"), PasswordProblem::invalid_text);
  EXPECT_EQ(problem("tab\there-and-there-x"), PasswordProblem::invalid_text);
  EXPECT_EQ(problem(std::string("nul\0inside-the-password", 23)), PasswordProblem::invalid_text);
}

TEST(PasswordPolicy, ReasonsNeverEchoThePassword) {
  for (std::string_view pw : {"jdupont-likes-tea-a-lot", "sunshine", "abcdefghijklmnop", "short"}) {
    const auto v = check_password(pw, ctx(true));
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.reason.find(pw), std::string::npos);
    EXPECT_FALSE(v.reason.empty());
  }
  EXPECT_EQ(password_problem_code(PasswordProblem::too_short), "too-short");
  EXPECT_EQ(password_problem_code(PasswordProblem::contains_context_word), "contains-context-word");
}

TEST(PasswordHash, HashAndVerify) {
  auto h = hash_password("correct horse battery staple", kFast);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(h->find("correct"), std::string::npos);
  EXPECT_TRUE(*verify_password(*h, "correct horse battery staple"));
  EXPECT_FALSE(*verify_password(*h, "correct horse battery stapl"));
  EXPECT_FALSE(*verify_password(*h, "Correct horse battery staple"));
  EXPECT_FALSE(*verify_password(*h, "\xff"));
  // Salted: the same password hashes differently.
  EXPECT_NE(*h, *hash_password("correct horse battery staple", kFast));
}

TEST(PasswordHash, NormalisedBeforeHashing) {
  // "é" precomposed (U+00E9) and decomposed (e + U+0301); full-width letters.
  auto h = hash_password("caf\xc3\xa9 au lait le matin", kFast);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(*verify_password(*h, "cafe\xcc\x81 au lait le matin"));
  auto h2 = hash_password("ＡＢＣ horse battery", kFast);
  ASSERT_TRUE(h2.ok());
  EXPECT_TRUE(*verify_password(*h2, "ABC horse battery"));
  EXPECT_EQ(*nfkc("cafe\xcc\x81"), "caf\xc3\xa9");
  EXPECT_FALSE(nfkc("\xc3").ok());
}

TEST(PasswordHash, MalformedStoredHash) {
  for (std::string_view bad : {"", "plain", "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA",
                               "$argon2id$v=19$m=65536,t=2,p=1$", "$argon2id$garbage"}) {
    auto r = verify_password(bad, "whatever");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::integrity);
  }
}

TEST(PasswordHash, ParametersAndRehash) {
  ::unsetenv("MEDVAULT_TEST_FAST_KDF");
  EXPECT_EQ(password_hash_params().memlimit, crypto_pwhash_MEMLIMIT_MODERATE);
  EXPECT_EQ(password_hash_params().opslimit, crypto_pwhash_OPSLIMIT_MODERATE);
  ::setenv("MEDVAULT_TEST_FAST_KDF", "1", 1);
  EXPECT_EQ(password_hash_params().memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);

  auto h = hash_password("correct horse battery staple");  // the fast parameters now
  ASSERT_TRUE(h.ok());
  EXPECT_NE(h->find("m=65536,t=2"), std::string::npos) << *h;
  EXPECT_FALSE(password_needs_rehash(*h));
  EXPECT_TRUE(password_needs_rehash(*h, crypto::Argon2Params::moderate()));
  EXPECT_TRUE(password_needs_rehash("$2y$10$bcrypt-hash-from-elsewhere"));
  EXPECT_FALSE(verify_password_dummy("correct horse battery staple"));
  EXPECT_TRUE(kFastKdf);
}

}  // namespace
}  // namespace medvault::auth
