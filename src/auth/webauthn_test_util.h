// Test helper (not part of mv_auth): a software authenticator that builds
// real WebAuthn registrations and assertions with OpenSSL-generated keys,
// CBOR encoded with libcbor, so the verifier is tested against independent
// encodings of every field. Also used to produce the fuzzer's seed corpus.
#pragma once

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/webauthn.h"

namespace medvault::auth::webauthn::testing {

inline constexpr uint8_t kUP = 0x01, kUV = 0x04, kBE = 0x08, kBS = 0x10, kAT = 0x40, kED = 0x80;

inline const RelyingParty& test_rp() {
  static const RelyingParty rp{"example.org", "https://example.org"};
  return rp;
}

// The fixed challenge of the fuzzer and its seeds: base64url of 00 01 .. 1f.
inline std::string fixed_challenge() {
  std::string raw;
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<char>(i));
  return base64url_encode(raw);
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

struct TestKey {
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  Alg alg;
};

inline TestKey make_key(Alg alg) {
  EVP_PKEY* k = nullptr;
  switch (alg) {
    case Alg::es256: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case Alg::eddsa: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case Alg::rs256: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
  }
  if (!k) throw std::runtime_error("keygen failed");
  return TestKey{std::unique_ptr<EVP_PKEY, PkeyFree>(k), alg};
}

struct CborFree {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
using Cbor = std::unique_ptr<cbor_item_t, CborFree>;

inline std::string serialize(const cbor_item_t* item) {
  unsigned char* buf = nullptr;
  size_t cap = 0;
  const size_t n = cbor_serialize_alloc(item, &buf, &cap);
  std::string out(reinterpret_cast<const char*>(buf), n);
  free(buf);
  return out;
}

inline cbor_item_t* cbor_intv(int64_t v) {
  if (v >= 0) return cbor_build_uint64(static_cast<uint64_t>(v));
  return cbor_build_negint64(static_cast<uint64_t>(-1 - v));
}

inline cbor_item_t* cbor_bytesv(const std::string& s) {
  return cbor_build_bytestring(reinterpret_cast<cbor_data>(s.data()), s.size());
}

inline void map_put(cbor_item_t* map, cbor_item_t* k, cbor_item_t* v) {
  cbor_map_add(map, cbor_pair{cbor_move(k), cbor_move(v)});
}

// The COSE_Key of `k`, with `alg_label` as label 3 (override to test refusals).
inline std::string cose_key(const TestKey& k, std::optional<int64_t> alg_label = std::nullopt) {
  const int64_t alg = alg_label.value_or(static_cast<int64_t>(k.alg));
  Cbor m(cbor_new_definite_map(5));
  if (k.alg == Alg::es256) {
    unsigned char pt[65];
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(k.key.get(), OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &len);
    map_put(m.get(), cbor_intv(1), cbor_intv(2));
    map_put(m.get(), cbor_intv(3), cbor_intv(alg));
    map_put(m.get(), cbor_intv(-1), cbor_intv(1));
    map_put(m.get(), cbor_intv(-2), cbor_bytesv(std::string(reinterpret_cast<char*>(pt + 1), 32)));
    map_put(m.get(), cbor_intv(-3), cbor_bytesv(std::string(reinterpret_cast<char*>(pt + 33), 32)));
  } else if (k.alg == Alg::eddsa) {
    unsigned char x[32];
    size_t len = sizeof x;
    EVP_PKEY_get_raw_public_key(k.key.get(), x, &len);
    map_put(m.get(), cbor_intv(1), cbor_intv(1));
    map_put(m.get(), cbor_intv(3), cbor_intv(alg));
    map_put(m.get(), cbor_intv(-1), cbor_intv(6));
    map_put(m.get(), cbor_intv(-2), cbor_bytesv(std::string(reinterpret_cast<char*>(x), 32)));
  } else {
    BIGNUM *n = nullptr, *e = nullptr;
    EVP_PKEY_get_bn_param(k.key.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(k.key.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    std::string nb(BN_num_bytes(n), '\0'), eb(BN_num_bytes(e), '\0');
    BN_bn2bin(n, reinterpret_cast<unsigned char*>(nb.data()));
    BN_bn2bin(e, reinterpret_cast<unsigned char*>(eb.data()));
    BN_free(n);
    BN_free(e);
    map_put(m.get(), cbor_intv(1), cbor_intv(3));
    map_put(m.get(), cbor_intv(3), cbor_intv(alg));
    map_put(m.get(), cbor_intv(-1), cbor_bytesv(nb));
    map_put(m.get(), cbor_intv(-2), cbor_bytesv(eb));
  }
  return serialize(m.get());
}

// ES256: DER signature; EdDSA: raw; RS256: PKCS#1 v1.5 — what authenticators send.
inline std::string sign(const TestKey& k, const std::string& data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, k.alg == Alg::eddsa ? nullptr : EVP_sha256(), nullptr, k.key.get());
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return sig;
}

inline std::string sha256(const std::string& s) {
  unsigned char h[32];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return std::string(reinterpret_cast<char*>(h), 32);
}

inline std::string client_data(const std::string& type, const std::string& challenge, const std::string& origin,
                               const std::string& extra = ",\"crossOrigin\":false") {
  return "{\"type\":\"" + type + "\",\"challenge\":\"" + challenge + "\",\"origin\":\"" + origin + "\"" + extra +
         "}";
}

inline std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

struct RegOptions {
  std::string rp_id = "example.org";
  std::string origin = "https://example.org";
  std::string challenge = fixed_challenge();
  std::string type = "webauthn.create";
  uint8_t flags = kUP | kUV | kAT;
  uint32_t sign_count = 0;
  std::string credential_id = std::string("credential-") + std::string(5, '\x01');
  std::string aaguid = std::string(16, '\0');
  std::string fmt = "none";
  std::optional<int64_t> cose_alg;   // override label 3 of the COSE key
  std::optional<int64_t> stmt_alg;   // override "alg" of a packed statement
};

struct Registration {
  std::string client_data_json;
  std::string authenticator_data;
  std::string attestation_object;
};

inline std::string reg_auth_data(const TestKey& k, const RegOptions& o) {
  std::string ad = sha256(o.rp_id);
  ad.push_back(static_cast<char>(o.flags));
  ad += be32(o.sign_count);
  ad += o.aaguid;
  ad.push_back(static_cast<char>(o.credential_id.size() >> 8));
  ad.push_back(static_cast<char>(o.credential_id.size() & 0xff));
  ad += o.credential_id;
  ad += cose_key(k, o.cose_alg);
  return ad;
}

inline std::string attestation_object(const std::string& fmt, const std::string& auth_data, cbor_item_t* stmt) {
  Cbor m(cbor_new_definite_map(3));
  map_put(m.get(), cbor_build_string("fmt"), cbor_build_string(fmt.c_str()));
  map_put(m.get(), cbor_build_string("attStmt"), stmt);
  map_put(m.get(), cbor_build_string("authData"), cbor_bytesv(auth_data));
  return serialize(m.get());
}

inline Registration make_registration(const TestKey& k, const RegOptions& o = {}) {
  Registration r;
  r.client_data_json = client_data(o.type, o.challenge, o.origin);
  r.authenticator_data = reg_auth_data(k, o);
  cbor_item_t* stmt;
  if (o.fmt == "packed") {
    stmt = cbor_new_definite_map(2);
    map_put(stmt, cbor_build_string("alg"), cbor_intv(o.stmt_alg.value_or(static_cast<int64_t>(k.alg))));
    map_put(stmt, cbor_build_string("sig"),
            cbor_bytesv(sign(k, r.authenticator_data + sha256(r.client_data_json))));
  } else {
    stmt = cbor_new_definite_map(0);
  }
  r.attestation_object = attestation_object(o.fmt, r.authenticator_data, stmt);
  return r;
}

struct AssertOptions {
  std::string rp_id = "example.org";
  std::string origin = "https://example.org";
  std::string challenge = fixed_challenge();
  std::string type = "webauthn.get";
  uint8_t flags = kUP | kUV;
  uint32_t sign_count = 1;
};

struct Assertion {
  std::string client_data_json;
  std::string authenticator_data;
  std::string signature;
};

inline Assertion make_assertion(const TestKey& k, const AssertOptions& o = {}) {
  Assertion a;
  a.client_data_json = client_data(o.type, o.challenge, o.origin);
  a.authenticator_data = sha256(o.rp_id);
  a.authenticator_data.push_back(static_cast<char>(o.flags));
  a.authenticator_data += be32(o.sign_count);
  a.signature = sign(k, a.authenticator_data + sha256(a.client_data_json));
  return a;
}

// The fuzzer's input format (fuzz/webauthn_fuzz.cc): fields, each a 2-byte
// big-endian length then the bytes, in this order: clientDataJSON (create),
// attestationObject, clientDataJSON (get), authenticatorData, signature.
inline std::string fuzz_input(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) {
    out.push_back(static_cast<char>(f.size() >> 8));
    out.push_back(static_cast<char>(f.size() & 0xff));
    out += f;
  }
  return out;
}

inline std::vector<std::string> split_fuzz_input(std::string_view in) {
  std::vector<std::string> fields;
  while (fields.size() < 5 && in.size() >= 2) {
    const size_t len = (static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1]);
    in.remove_prefix(2);
    const size_t take = std::min(len, in.size());
    fields.emplace_back(in.substr(0, take));
    in.remove_prefix(take);
  }
  fields.resize(5);
  return fields;
}

}  // namespace medvault::auth::webauthn::testing
