#include "auth/webauthn.h"

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <optional>

namespace medvault::auth::webauthn {
namespace {

// Authenticator data flags (WebAuthn Level 2 §6.1, Level 3 for BE/BS).
constexpr uint8_t kUP = 0x01, kUV = 0x04, kBE = 0x08, kBS = 0x10, kAT = 0x40, kED = 0x80;
constexpr size_t kAuthDataHeader = 37;  // rpIdHash(32) flags(1) signCount(4)

Error bad(std::string m) { return make_error(Errc::invalid, std::move(m)); }
Error refused(std::string m) { return make_error(Errc::unauthenticated, std::move(m)); }

// --- libcbor adapter --------------------------------------------------------

struct CborDeleter {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
using CborPtr = std::unique_ptr<cbor_item_t, CborDeleter>;

// libcbor (0.8) allocates a definite array or map for its declared size
// before reading the items, so a 5-byte header could ask for gigabytes. A
// first pass over the item headers (libcbor's streaming decoder) refuses any
// declared count larger than the bytes left, since every item takes at least
// one byte; what cbor_load allocates is then proportional to the input.
struct SizeCheck {
  size_t remaining = 0;
  bool too_big = false;
};

bool declared_sizes_fit(std::string_view in) {
  cbor_callbacks cb = cbor_empty_callbacks;
  cb.array_start = [](void* ctx, size_t n) {
    auto* c = static_cast<SizeCheck*>(ctx);
    if (n > c->remaining) c->too_big = true;
  };
  cb.map_start = [](void* ctx, size_t n) {
    auto* c = static_cast<SizeCheck*>(ctx);
    if (n > c->remaining / 2) c->too_big = true;
  };
  SizeCheck check;
  size_t off = 0;
  while (off < in.size()) {
    check.remaining = in.size() - off;
    const cbor_decoder_result r =
        cbor_stream_decode(reinterpret_cast<cbor_data>(in.data() + off), in.size() - off, &cb, &check);
    if (check.too_big) return false;
    if (r.status != CBOR_DECODER_FINISHED || r.read == 0) break;  // cbor_load reports it
    off += r.read;
  }
  return true;
}

// Decodes one CBOR item at the start of `in`; `read` is how many bytes it
// took. libcbor bounds nesting (CBOR_MAX_STACK_SIZE) and reports truncation.
Result<CborPtr> cbor_decode(std::string_view in, size_t& read, const char* what) {
  if (!declared_sizes_fit(in)) return bad(std::string(what) + " declares more items than it holds");
  cbor_load_result res{};
  CborPtr item(cbor_load(reinterpret_cast<cbor_data>(in.data()), in.size(), &res));
  if (!item || res.error.code != CBOR_ERR_NONE) return bad(std::string(what) + " is not valid CBOR");
  read = res.read;
  return item;
}

std::optional<std::string_view> cbor_bytes(const cbor_item_t* it) {
  if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it)) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(cbor_bytestring_handle(it)), cbor_bytestring_length(it));
}

std::optional<std::string_view> cbor_text(const cbor_item_t* it) {
  if (!cbor_isa_string(it) || !cbor_string_is_definite(it)) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(cbor_string_handle(it)), cbor_string_length(it));
}

std::optional<int64_t> cbor_int(const cbor_item_t* it) {
  if (cbor_isa_uint(it)) {
    const uint64_t v = cbor_get_int(it);
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (cbor_isa_negint(it)) {
    const uint64_t v = cbor_get_int(it);
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return -1 - static_cast<int64_t>(v);
  }
  return std::nullopt;
}

// --- OpenSSL adapter --------------------------------------------------------

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// OpenSSL failures on hostile input leave entries in the thread's error
// queue; they must not leak into an unrelated later call.
struct ClearOpensslErrors {
  ~ClearOpensslErrors() { ERR_clear_error(); }
};

PkeyPtr key_from_params(const char* type, const OSSL_PARAM* params) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) != 1)
    return nullptr;
  PkeyPtr key(raw);
  // Point on the curve (EC), odd modulus and sane exponent (RSA).
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), EVP_PKEY_CTX_free);
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

// The key must be of the kind `alg` names (and P-256 for ES256, 2048 to
// 8192 bits for RS256).
bool key_matches(EVP_PKEY* key, Alg alg) {
  switch (alg) {
    case Alg::es256: {
      char group[64] = {};
      size_t len = 0;
      return EVP_PKEY_is_a(key, "EC") &&
             EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) == 1 &&
             std::string_view(group, len) == "prime256v1";
    }
    case Alg::eddsa: return EVP_PKEY_is_a(key, "ED25519");
    case Alg::rs256:
      return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048 && EVP_PKEY_get_bits(key) <= 8192;
  }
  return false;
}

// COSE_Key (RFC 9053) → OpenSSL key. Labels: 1 kty, 3 alg, -1 crv or n,
// -2 x or e, -3 y. Duplicate labels are refused.
Result<PkeyPtr> key_from_cose(const cbor_item_t* map, Alg& alg_out) {
  if (!cbor_isa_map(map)) return bad("credential public key is not a COSE key map");
  std::map<int64_t, const cbor_item_t*> f;
  const size_t n = cbor_map_size(map);
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < n; ++i) {
    auto label = cbor_int(pairs[i].key);
    if (!label) continue;  // text labels are allowed by COSE and not used here
    if (!f.emplace(*label, pairs[i].value).second) return bad("COSE key has a duplicate label");
  }
  auto get_int = [&](int64_t l) -> std::optional<int64_t> {
    auto it = f.find(l);
    return it == f.end() ? std::nullopt : cbor_int(it->second);
  };
  auto get_bytes = [&](int64_t l) -> std::optional<std::string_view> {
    auto it = f.find(l);
    return it == f.end() ? std::nullopt : cbor_bytes(it->second);
  };
  const auto kty = get_int(1);
  const auto alg = get_int(3);
  if (!kty || !alg) return bad("COSE key lacks its key type or algorithm");

  PkeyPtr key;
  if (*alg == static_cast<int>(Alg::es256)) {
    const auto crv = get_int(-1);
    const auto x = get_bytes(-2), y = get_bytes(-3);
    if (*kty != 2 || crv != 1) return bad("ES256 key must be an EC2 key on P-256");
    if (!x || !y || x->size() != 32 || y->size() != 32) return bad("ES256 key coordinates are malformed");
    unsigned char point[65];
    point[0] = 0x04;
    std::copy(x->begin(), x->end(), point + 1);
    std::copy(y->begin(), y->end(), point + 33);
    char group[] = "prime256v1";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point),
        OSSL_PARAM_construct_end()};
    key = key_from_params("EC", params);
    if (!key) return bad("ES256 key is not a valid P-256 point");
  } else if (*alg == static_cast<int>(Alg::eddsa)) {
    const auto crv = get_int(-1);
    const auto x = get_bytes(-2);
    if (*kty != 1 || crv != 6) return bad("EdDSA key must be an OKP key on Ed25519");
    if (!x || x->size() != 32) return bad("Ed25519 key is malformed");
    key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(x->data()), x->size()));
    if (!key) return bad("Ed25519 key is malformed");
  } else if (*alg == static_cast<int>(Alg::rs256)) {
    const auto nb = get_bytes(-1), eb = get_bytes(-2);
    if (*kty != 3) return bad("RS256 key must be an RSA key");
    if (!nb || !eb || nb->empty() || nb->size() > 1024 || eb->empty() || eb->size() > 8)
      return bad("RSA key is malformed");
    std::unique_ptr<BIGNUM, decltype(&BN_free)> bn_n(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(nb->data()), static_cast<int>(nb->size()), nullptr),
        BN_free);
    std::unique_ptr<BIGNUM, decltype(&BN_free)> bn_e(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(eb->data()), static_cast<int>(eb->size()), nullptr),
        BN_free);
    std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
    if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
      return make_error(Errc::internal, "out of memory building an RSA key");
    std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                    OSSL_PARAM_free);
    if (!params) return make_error(Errc::internal, "out of memory building an RSA key");
    key = key_from_params("RSA", params.get());
    if (!key) return bad("RSA key is malformed");
  } else {
    return bad("credential algorithm is not supported (ES256, EdDSA or RS256 only)");
  }
  alg_out = static_cast<Alg>(*alg);
  if (!key_matches(key.get(), alg_out)) return bad("credential key does not fit its algorithm");
  return key;
}

Result<PkeyPtr> key_from_der(std::string_view der, Alg alg) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != reinterpret_cast<const unsigned char*>(der.data() + der.size()) || !key_matches(key.get(), alg))
    return make_error(Errc::integrity, "stored credential key is malformed");
  return key;
}

Status verify_signature(EVP_PKEY* key, Alg alg, std::string_view auth_data, std::string_view client_data_json,
                        std::string_view sig) {
  // Signed bytes: authenticatorData || SHA-256(clientDataJSON).
  unsigned char cd_hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(cd_hash, reinterpret_cast<const unsigned char*>(client_data_json.data()),
                     client_data_json.size());
  std::string signed_data(auth_data);
  signed_data.append(reinterpret_cast<const char*>(cd_hash), sizeof cd_hash);
  if (sig.empty() || sig.size() > 1024) return refused("signature does not verify");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  // ES256: DER ECDSA signature; EdDSA: raw 64 bytes (no prehash); RS256:
  // PKCS#1 v1.5 with SHA-256 (OpenSSL's RSA default padding).
  const EVP_MD* md = alg == Alg::eddsa ? nullptr : EVP_sha256();
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1)
    return make_error(Errc::internal, "signature verification could not start");
  if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(signed_data.data()), signed_data.size()) != 1)
    return refused("signature does not verify");
  return ok_status();
}

// --- clientDataJSON ---------------------------------------------------------

Status check_client_data(std::string_view json, std::string_view type, const RelyingParty& rp,
                         std::string_view expected_challenge) {
  if (json.empty() || json.size() > kMaxInputBytes) return bad("clientDataJSON is empty or too large");
  boost::system::error_code ec;
  boost::json::value v;
  try {
    v = boost::json::parse(json, ec);
  } catch (const std::exception&) {
    return bad("clientDataJSON is not valid JSON");
  }
  if (ec || !v.is_object()) return bad("clientDataJSON is not a JSON object");
  const auto& o = v.get_object();
  auto str = [&](std::string_view k) -> std::optional<std::string_view> {
    auto* p = o.if_contains(k);
    if (!p || !p->is_string()) return std::nullopt;
    return std::string_view(p->get_string());
  };
  const auto t = str("type"), c = str("challenge"), origin = str("origin");
  if (!t || !c || !origin) return bad("clientDataJSON lacks type, challenge or origin");
  if (*t != type) return refused("clientDataJSON type is not " + std::string(type));
  if (expected_challenge.empty() || c->size() != expected_challenge.size() ||
      sodium_memcmp(c->data(), expected_challenge.data(), c->size()) != 0)
    return refused("challenge does not match the one issued");
  if (*origin != rp.origin) return refused("origin does not match the relying party");
  if (auto* co = o.if_contains("crossOrigin")) {
    if (!co->is_bool()) return bad("clientDataJSON crossOrigin is not a boolean");
    if (co->get_bool()) return refused("cross-origin ceremonies are refused");
  }
  return ok_status();
}

// --- authenticatorData ------------------------------------------------------

struct AuthData {
  uint8_t flags = 0;
  uint32_t sign_count = 0;
  std::string aaguid;
  std::string credential_id;
  CborPtr cose_key;
};

Result<AuthData> parse_auth_data(std::string_view ad, const RelyingParty& rp, bool registration) {
  if (ad.size() > kMaxInputBytes) return bad("authenticatorData is too large");
  if (ad.size() < kAuthDataHeader) return bad("authenticatorData is truncated");
  AuthData out;
  out.flags = static_cast<uint8_t>(ad[32]);
  for (int i = 0; i < 4; ++i) out.sign_count = (out.sign_count << 8) | static_cast<uint8_t>(ad[33 + i]);
  size_t pos = kAuthDataHeader;
  if (out.flags & kAT) {
    if (!registration) return bad("authenticatorData of an assertion holds attested credential data");
    if (ad.size() < pos + 18) return bad("authenticatorData is truncated");
    out.aaguid = std::string(ad.substr(pos, 16));
    const size_t len = (static_cast<uint8_t>(ad[pos + 16]) << 8) | static_cast<uint8_t>(ad[pos + 17]);
    pos += 18;
    if (len == 0 || len > kMaxCredentialIdBytes) return bad("credential id length is out of range");
    if (ad.size() < pos + len) return bad("authenticatorData is truncated");
    out.credential_id = std::string(ad.substr(pos, len));
    pos += len;
    size_t read = 0;
    MV_ASSIGN(out.cose_key, cbor_decode(ad.substr(pos), read, "credential public key"));
    pos += read;
  } else if (registration) {
    return bad("authenticatorData lacks attested credential data");
  }
  if (out.flags & kED) {
    size_t read = 0;
    MV_ASSIGN(auto ext, cbor_decode(ad.substr(pos), read, "authenticator extensions"));
    if (!cbor_isa_map(ext.get())) return bad("authenticator extensions are not a CBOR map");
    pos += read;
  }
  if (pos != ad.size()) return bad("authenticatorData has trailing bytes");

  unsigned char rp_hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(rp_hash, reinterpret_cast<const unsigned char*>(rp.id.data()), rp.id.size());
  if (sodium_memcmp(rp_hash, ad.data(), sizeof rp_hash) != 0) return refused("rpIdHash does not match the rpId");
  if (!(out.flags & kUP)) return refused("user presence flag (UP) is not set");
  if (!(out.flags & kUV)) return refused("user verification flag (UV) is not set");
  if ((out.flags & kBS) && !(out.flags & kBE)) return bad("backup state set on a credential that cannot be backed up");
  return out;
}

const cbor_item_t* map_get(const cbor_item_t* map, std::string_view key, int& count) {
  const cbor_item_t* found = nullptr;
  count = 0;
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    auto k = cbor_text(pairs[i].key);
    if (k && *k == key) {
      found = pairs[i].value;
      ++count;
    }
  }
  return found;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.pop_back();  // the terminating NUL
  return out;
}

Result<std::string> base64url_decode(std::string_view text) {
  if (text.size() > 2 * kMaxInputBytes) return bad("base64url text is too large");
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out(text.size() * 3 / 4 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size())
    return bad("invalid base64url");
  out.resize(len);
  return out;
}

std::string new_challenge() {
  if (sodium_init() < 0) return {};
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

Result<Credential> verify_registration(const RelyingParty& rp, std::string_view expected_challenge,
                                       std::string_view client_data_json, std::string_view attestation_object) {
  ClearOpensslErrors clear;
  if (sodium_init() < 0) return make_error(Errc::internal, "libsodium unavailable");
  MV_TRY(check_client_data(client_data_json, "webauthn.create", rp, expected_challenge));
  if (attestation_object.empty() || attestation_object.size() > kMaxInputBytes)
    return bad("attestationObject is empty or too large");

  size_t read = 0;
  MV_ASSIGN(CborPtr att, cbor_decode(attestation_object, read, "attestationObject"));
  if (read != attestation_object.size()) return bad("attestationObject has trailing bytes");
  if (!cbor_isa_map(att.get())) return bad("attestationObject is not a CBOR map");
  int n_fmt = 0, n_stmt = 0, n_ad = 0;
  const cbor_item_t* fmt_item = map_get(att.get(), "fmt", n_fmt);
  const cbor_item_t* stmt = map_get(att.get(), "attStmt", n_stmt);
  const cbor_item_t* ad_item = map_get(att.get(), "authData", n_ad);
  if (n_fmt != 1 || n_stmt != 1 || n_ad != 1) return bad("attestationObject needs one fmt, attStmt and authData");
  const auto fmt = cbor_text(fmt_item);
  const auto ad = cbor_bytes(ad_item);
  if (!fmt || !ad || !cbor_isa_map(stmt)) return bad("attestationObject fields have the wrong types");

  MV_ASSIGN(AuthData auth, parse_auth_data(*ad, rp, true));
  Alg alg = Alg::es256;
  MV_ASSIGN(PkeyPtr key, key_from_cose(auth.cose_key.get(), alg));

  if (*fmt == "none") {
    if (cbor_map_size(stmt) != 0) return bad("attestation \"none\" must have an empty statement");
  } else if (*fmt == "packed") {
    int n_alg = 0, n_sig = 0, n_x5c = 0;
    const cbor_item_t* a = map_get(stmt, "alg", n_alg);
    const cbor_item_t* s = map_get(stmt, "sig", n_sig);
    map_get(stmt, "x5c", n_x5c);
    if (n_x5c != 0) return bad("packed attestation with a certificate chain is not supported (ask for attestation none)");
    if (cbor_map_size(stmt) != 2 || n_alg != 1 || n_sig != 1) return bad("packed attestation statement is malformed");
    const auto stmt_alg = cbor_int(a);
    const auto sig = cbor_bytes(s);
    if (!stmt_alg || !sig) return bad("packed attestation statement is malformed");
    if (*stmt_alg != static_cast<int>(alg)) return refused("attestation algorithm does not match the credential key");
    MV_TRY(verify_signature(key.get(), alg, *ad, client_data_json, *sig));
  } else {
    return bad("attestation format is not supported (none or packed self-attestation only)");
  }

  Credential c;
  unsigned char* der = nullptr;
  const int der_len = i2d_PUBKEY(key.get(), &der);
  if (der_len <= 0) return make_error(Errc::internal, "cannot encode the credential key");
  c.public_key_der.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);
  c.id = std::move(auth.credential_id);
  c.alg = alg;
  c.sign_count = auth.sign_count;
  c.backup_eligible = auth.flags & kBE;
  c.backed_up = auth.flags & kBS;
  c.aaguid = std::move(auth.aaguid);
  c.attestation_format = std::string(*fmt);
  return c;
}

Result<AssertionResult> verify_assertion(const RelyingParty& rp, std::string_view expected_challenge,
                                         const Credential& stored, std::string_view client_data_json,
                                         std::string_view authenticator_data, std::string_view signature) {
  ClearOpensslErrors clear;
  if (sodium_init() < 0) return make_error(Errc::internal, "libsodium unavailable");
  MV_TRY(check_client_data(client_data_json, "webauthn.get", rp, expected_challenge));
  if (signature.size() > kMaxInputBytes) return bad("signature is too large");
  MV_ASSIGN(AuthData auth, parse_auth_data(authenticator_data, rp, false));
  MV_ASSIGN(PkeyPtr key, key_from_der(stored.public_key_der, stored.alg));
  MV_TRY(verify_signature(key.get(), stored.alg, authenticator_data, client_data_json, signature));

  // A credential's backup eligibility is fixed when it is created.
  if (static_cast<bool>(auth.flags & kBE) != stored.backup_eligible)
    return refused("backup eligibility of the credential changed");
  if ((auth.sign_count != 0 || stored.sign_count != 0) && auth.sign_count <= stored.sign_count)
    return refused("signature counter did not increase (possible cloned authenticator)");
  AssertionResult r;
  r.sign_count = auth.sign_count;
  r.backup_eligible = auth.flags & kBE;
  r.backed_up = auth.flags & kBS;
  r.user_verified = auth.flags & kUV;
  return r;
}

}  // namespace medvault::auth::webauthn
