#include "auth/webauthn.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "auth/webauthn_test_util.h"

namespace medvault::auth::webauthn {
namespace {

using namespace testing;  // the software authenticator
namespace fs = std::filesystem;

const RelyingParty kRp{"example.org", "https://example.org"};

class WebauthnAlg : public ::testing::TestWithParam<Alg> {};

TEST_P(WebauthnAlg, RegistrationThenAssertionsSucceed) {
  const TestKey key = make_key(GetParam());
  for (const std::string fmt : {"none", "packed"}) {
    RegOptions o;
    o.fmt = fmt;
    o.flags = kUP | kUV | kAT | kBE | kBS;
    o.aaguid = std::string(16, '\x42');
    const Registration reg = make_registration(key, o);
    auto cred = verify_registration(kRp, fixed_challenge(), reg.client_data_json, reg.attestation_object);
    ASSERT_TRUE(cred.ok()) << fmt << ": " << cred.error().message;
    EXPECT_EQ(cred->id, o.credential_id);
    EXPECT_EQ(cred->alg, GetParam());
    EXPECT_EQ(cred->sign_count, 0u);
    EXPECT_TRUE(cred->backup_eligible);
    EXPECT_TRUE(cred->backed_up);
    EXPECT_EQ(cred->aaguid, o.aaguid);
    EXPECT_EQ(cred->attestation_format, fmt);

    // The stored key is the authenticator's key (DER SubjectPublicKeyInfo).
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(key.key.get(), &der);
    EXPECT_EQ(cred->public_key_der, std::string(reinterpret_cast<char*>(der), n));
    OPENSSL_free(der);

    Credential stored = *cred;
    for (uint32_t count : {1u, 2u, 40u}) {
      AssertOptions a;
      a.sign_count = count;
      a.flags = kUP | kUV | kBE;  // backed-up state may change
      const std::string challenge = new_challenge();
      a.challenge = challenge;
      const Assertion as = make_assertion(key, a);
      auto r = verify_assertion(kRp, challenge, stored, as.client_data_json, as.authenticator_data, as.signature);
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_EQ(r->sign_count, count);
      EXPECT_TRUE(r->backup_eligible);
      EXPECT_FALSE(r->backed_up);
      stored.sign_count = r->sign_count;
    }
  }
}

TEST_P(WebauthnAlg, FlippedBitInAuthDataOrSignatureIsRefused) {
  const TestKey key = make_key(GetParam());
  RegOptions o;
  o.fmt = "packed";
  auto cred = verify_registration(kRp, fixed_challenge(), make_registration(key, o).client_data_json,
                                  make_registration(key, o).attestation_object);
  ASSERT_TRUE(cred.ok()) << cred.error().message;
  const Assertion as = make_assertion(key);

  // Bit flips in the signature counter bytes and in the signature.
  for (size_t byte : {33u, 36u}) {
    std::string ad = as.authenticator_data;
    ad[byte] ^= 0x01;
    auto r = verify_assertion(kRp, fixed_challenge(), *cred, as.client_data_json, ad, as.signature);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unauthenticated);
    EXPECT_EQ(r.error().message, "signature does not verify");
  }
  for (size_t byte : {size_t{0}, as.signature.size() / 2, as.signature.size() - 1}) {
    std::string sig = as.signature;
    sig[byte] ^= 0x01;
    auto r = verify_assertion(kRp, fixed_challenge(), *cred, as.client_data_json, as.authenticator_data, sig);
    ASSERT_FALSE(r.ok()) << byte;
    EXPECT_EQ(r.error().code, Errc::unauthenticated);
  }
  // A packed self-attestation whose authData was altered after signing.
  Registration reg = make_registration(key, o);
  const size_t at = reg.attestation_object.find(reg.authenticator_data);
  ASSERT_NE(at, std::string::npos);
  reg.attestation_object[at + 36] ^= 0x01;  // sign count
  auto r = verify_registration(kRp, fixed_challenge(), reg.client_data_json, reg.attestation_object);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "signature does not verify");
}

INSTANTIATE_TEST_SUITE_P(Algs, WebauthnAlg, ::testing::Values(Alg::es256, Alg::eddsa, Alg::rs256),
                         [](const auto& info) {
                           switch (info.param) {
                             case Alg::es256: return std::string("ES256");
                             case Alg::eddsa: return std::string("EdDSA");
                             case Alg::rs256: return std::string("RS256");
                           }
                           return std::string("x");
                         });

class WebauthnRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cred = verify_registration(kRp, fixed_challenge(), good_.client_data_json, good_.attestation_object);
    ASSERT_TRUE(cred.ok()) << cred.error().message;
    cred_ = *cred;
  }
  Result<Credential> reg(const RegOptions& o) {
    const Registration r = make_registration(key_, o);
    return verify_registration(kRp, fixed_challenge(), r.client_data_json, r.attestation_object);
  }
  Result<AssertionResult> assert_with(const AssertOptions& o, const Credential& c) {
    const Assertion a = make_assertion(key_, o);
    return verify_assertion(kRp, fixed_challenge(), c, a.client_data_json, a.authenticator_data, a.signature);
  }
  static void expect_error(const auto& r, Errc code, std::string_view message) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, code);
    EXPECT_EQ(r.error().message, message);
  }

  TestKey key_ = make_key(Alg::es256);
  Registration good_ = make_registration(key_, [] {
    RegOptions o;
    o.fmt = "packed";
    return o;
  }());
  Credential cred_;
};

TEST_F(WebauthnRefusal, ClientDataChecks) {
  RegOptions o;
  o.origin = "https://evil.example";
  expect_error(reg(o), Errc::unauthenticated, "origin does not match the relying party");
  o = {};
  o.origin = "https://example.org:8443";  // exact match only
  expect_error(reg(o), Errc::unauthenticated, "origin does not match the relying party");
  o = {};
  o.type = "webauthn.get";
  expect_error(reg(o), Errc::unauthenticated, "clientDataJSON type is not webauthn.create");
  o = {};
  o.challenge = new_challenge();  // another ceremony's challenge
  expect_error(reg(o), Errc::unauthenticated, "challenge does not match the one issued");

  AssertOptions a;
  a.type = "webauthn.create";
  expect_error(assert_with(a, cred_), Errc::unauthenticated, "clientDataJSON type is not webauthn.get");
  a = {};
  a.origin = "http://example.org";
  expect_error(assert_with(a, cred_), Errc::unauthenticated, "origin does not match the relying party");

  // A replayed assertion: the server issued a new challenge for this login.
  const Assertion old = make_assertion(key_);
  expect_error(verify_assertion(kRp, new_challenge(), cred_, old.client_data_json, old.authenticator_data,
                                old.signature),
               Errc::unauthenticated, "challenge does not match the one issued");

  const std::string cd_cross = client_data("webauthn.create", fixed_challenge(), kRp.origin, ",\"crossOrigin\":true");
  expect_error(verify_registration(kRp, fixed_challenge(), cd_cross, good_.attestation_object), Errc::unauthenticated,
               "cross-origin ceremonies are refused");
  for (const std::string bad : {"", "{", "[1]", "{\"type\":\"webauthn.create\"}", "\xff\xfe",
                                "{\"type\":1,\"challenge\":\"x\",\"origin\":\"y\"}"}) {
    auto r = verify_registration(kRp, fixed_challenge(), bad, good_.attestation_object);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid);
  }
  expect_error(verify_registration(kRp, fixed_challenge(), std::string(kMaxInputBytes + 1, ' '),
                                   good_.attestation_object),
               Errc::invalid, "clientDataJSON is empty or too large");
}

TEST_F(WebauthnRefusal, AuthenticatorDataChecks) {
  RegOptions o;
  o.rp_id = "evil.example";
  expect_error(reg(o), Errc::unauthenticated, "rpIdHash does not match the rpId");
  o = {};
  o.flags = kUP | kAT;
  expect_error(reg(o), Errc::unauthenticated, "user verification flag (UV) is not set");
  o.flags = kUV | kAT;
  expect_error(reg(o), Errc::unauthenticated, "user presence flag (UP) is not set");
  o.flags = kUP | kUV;
  expect_error(reg(o), Errc::invalid, "authenticatorData lacks attested credential data");
  o.flags = kUP | kUV | kAT | kBS;
  expect_error(reg(o), Errc::invalid, "backup state set on a credential that cannot be backed up");
  o = {};
  o.credential_id = std::string(1024, 'c');
  expect_error(reg(o), Errc::invalid, "credential id length is out of range");

  AssertOptions a;
  a.rp_id = "example.org.evil.example";
  expect_error(assert_with(a, cred_), Errc::unauthenticated, "rpIdHash does not match the rpId");
  a = {};
  a.flags = kUP;
  expect_error(assert_with(a, cred_), Errc::unauthenticated, "user verification flag (UV) is not set");
  a.flags = kUP | kUV | kBE;  // registered without BE
  expect_error(assert_with(a, cred_), Errc::unauthenticated, "backup eligibility of the credential changed");

  // Truncated authenticatorData, at every length, in an assertion and inside
  // an attestation object.
  const Assertion as = make_assertion(key_);
  for (size_t n = 0; n < as.authenticator_data.size(); ++n) {
    auto r = verify_assertion(kRp, fixed_challenge(), cred_, as.client_data_json, as.authenticator_data.substr(0, n),
                              as.signature);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "authenticatorData is truncated");
  }
  for (size_t n = 0; n < good_.authenticator_data.size(); ++n) {
    auto stmt = cbor_new_definite_map(0);
    const std::string att = attestation_object("none", good_.authenticator_data.substr(0, n), stmt);
    auto r = verify_registration(kRp, fixed_challenge(), good_.client_data_json, att);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, Errc::invalid) << n;
  }
}

TEST_F(WebauthnRefusal, AttestationChecks) {
  RegOptions o;
  o.fmt = "packed";
  o.stmt_alg = -35;  // ES384 announced, ES256 key
  expect_error(reg(o), Errc::unauthenticated, "attestation algorithm does not match the credential key");
  o = {};
  o.cose_alg = -35;  // COSE key claims ES384
  expect_error(reg(o), Errc::invalid, "credential algorithm is not supported (ES256, EdDSA or RS256 only)");
  o.cose_alg = -8;  // EC2 key labelled EdDSA
  expect_error(reg(o), Errc::invalid, "EdDSA key must be an OKP key on Ed25519");
  o = {};
  o.fmt = "fido-u2f";
  expect_error(reg(o), Errc::invalid, "attestation format is not supported (none or packed self-attestation only)");

  // "none" with a statement, and packed with a certificate chain.
  auto stmt = cbor_new_definite_map(1);
  map_put(stmt, cbor_build_string("sig"), cbor_bytesv("x"));
  std::string att = attestation_object("none", good_.authenticator_data, stmt);
  expect_error(verify_registration(kRp, fixed_challenge(), good_.client_data_json, att), Errc::invalid,
               "attestation \"none\" must have an empty statement");
  stmt = cbor_new_definite_map(3);
  map_put(stmt, cbor_build_string("alg"), cbor_intv(-7));
  map_put(stmt, cbor_build_string("sig"), cbor_bytesv("x"));
  auto x5c = cbor_new_definite_array(1);
  cbor_array_push(x5c, cbor_move(cbor_bytesv("cert")));
  map_put(stmt, cbor_build_string("x5c"), x5c);
  att = attestation_object("packed", good_.authenticator_data, stmt);
  auto r = verify_registration(kRp, fixed_challenge(), good_.client_data_json, att);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid);

  // An ES256 point that is not on the curve.
  std::string ad = good_.authenticator_data;
  ad[ad.size() - 1] ^= 0x01;  // last byte of y
  att = attestation_object("none", ad, cbor_new_definite_map(0));
  expect_error(verify_registration(kRp, fixed_challenge(), good_.client_data_json, att), Errc::invalid,
               "ES256 key is not a valid P-256 point");
}

TEST_F(WebauthnRefusal, BadCbor) {
  const std::string& ok = good_.attestation_object;
  for (const std::string& bad : {std::string(), std::string("\xff"), std::string("\xa3"), ok.substr(0, ok.size() - 1),
                                ok + std::string(1, '\0'), std::string("\x83\x01\x02\x03"),
                                std::string(3000, '\x81') + "\x01"}) {
    auto r = verify_registration(kRp, fixed_challenge(), good_.client_data_json, bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid);
  }
  // Truncation at every length.
  for (size_t n = 0; n < ok.size(); ++n) {
    auto r = verify_registration(kRp, fixed_challenge(), good_.client_data_json, ok.substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, Errc::invalid) << n;
  }
  expect_error(verify_registration(kRp, fixed_challenge(), good_.client_data_json, std::string(kMaxInputBytes + 1, 'a')),
               Errc::invalid, "attestationObject is empty or too large");
  // Containers that declare more items than the input holds are refused
  // before libcbor allocates for them (an array of 2^32-1 items, a map of
  // 2^24 pairs, nested inside a valid-looking map).
  for (const std::string& hostile :
       {std::string("\x9a\xff\xff\xff\xff\x01", 6), std::string("\xa1\x63" "fmt" "\xba\x01\x00\x00\x00\x01", 11),
        std::string("\xa1\x63" "fmt" "\x9b\x00\x00\x00\x01\x00\x00\x00\x00", 14)}) {
    expect_error(verify_registration(kRp, fixed_challenge(), good_.client_data_json, hostile), Errc::invalid,
                 "attestationObject declares more items than it holds");
  }
  // Duplicate "fmt" keys.
  Cbor m(cbor_new_definite_map(4));
  map_put(m.get(), cbor_build_string("fmt"), cbor_build_string("none"));
  map_put(m.get(), cbor_build_string("fmt"), cbor_build_string("packed"));
  map_put(m.get(), cbor_build_string("attStmt"), cbor_new_definite_map(0));
  map_put(m.get(), cbor_build_string("authData"), cbor_bytesv(good_.authenticator_data));
  expect_error(verify_registration(kRp, fixed_challenge(), good_.client_data_json, serialize(m.get())),
               Errc::invalid, "attestationObject needs one fmt, attStmt and authData");
}

TEST_F(WebauthnRefusal, SignCounter) {
  Credential c = cred_;
  c.sign_count = 10;
  AssertOptions a;
  a.sign_count = 10;
  expect_error(assert_with(a, c), Errc::unauthenticated,
               "signature counter did not increase (possible cloned authenticator)");
  a.sign_count = 3;
  EXPECT_FALSE(assert_with(a, c).ok());
  a.sign_count = 0;  // a counting authenticator that stopped counting
  EXPECT_FALSE(assert_with(a, c).ok());
  a.sign_count = 11;
  EXPECT_TRUE(assert_with(a, c).ok());
  // Authenticators without a counter always send 0.
  c.sign_count = 0;
  a.sign_count = 0;
  auto r = assert_with(a, c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sign_count, 0u);
}

TEST_F(WebauthnRefusal, StoredKeyMustFitItsAlgorithm) {
  Credential c = cred_;
  c.alg = Alg::eddsa;
  expect_error(assert_with({}, c), Errc::integrity, "stored credential key is malformed");
  c = cred_;
  c.public_key_der.pop_back();
  expect_error(assert_with({}, c), Errc::integrity, "stored credential key is malformed");
}

TEST(Webauthn, ErrorMessagesNeverEchoInput) {
  const TestKey key = make_key(Alg::es256);
  RegOptions o;
  o.origin = "https://SECRET-ORIGIN.example";
  o.fmt = "SECRETFMT";
  const Registration r = make_registration(key, o);
  auto res = verify_registration(kRp, fixed_challenge(), r.client_data_json, r.attestation_object);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message.find("SECRET"), std::string::npos);
  o.origin = kRp.origin;
  const Registration r2 = make_registration(key, o);
  res = verify_registration(kRp, fixed_challenge(), r2.client_data_json, r2.attestation_object);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message.find("SECRET"), std::string::npos);
}

TEST(Webauthn, ChallengesAndBase64url) {
  const std::string a = new_challenge(), b = new_challenge();
  EXPECT_EQ(a.size(), 43u);  // 32 bytes, no padding
  EXPECT_NE(a, b);
  auto raw = base64url_decode(a);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_EQ(base64url_encode(*raw), a);
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(*base64url_decode("-_8="), "\xfb\xff");
  EXPECT_FALSE(base64url_decode("+/8").ok());
  EXPECT_FALSE(base64url_decode("a b").ok());
}

// The seeds of fuzz/webauthn_fuzz.cc are valid ceremonies, so the fuzzer
// starts from inputs that reach signature verification.
TEST(Webauthn, FuzzSeedCorpusVerifies) {
  const fs::path dir = fs::path(MEDVAULT_SOURCE_DIR) / "fuzz/corpus/webauthn";
  int seen = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const auto f = split_fuzz_input(ss.str());
    auto cred = verify_registration(test_rp(), fixed_challenge(), f[0], f[1]);
    ASSERT_TRUE(cred.ok()) << e.path() << ": " << cred.error().message;
    auto r = verify_assertion(test_rp(), fixed_challenge(), *cred, f[2], f[3], f[4]);
    ASSERT_TRUE(r.ok()) << e.path() << ": " << r.error().message;
    ++seen;
  }
  EXPECT_GE(seen, 3);
}

}  // namespace
}  // namespace medvault::auth::webauthn
