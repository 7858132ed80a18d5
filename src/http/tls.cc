#include "http/tls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <system_error>

#include "common/file.h"
#include "http/server.h"

namespace medvault::http {
namespace {

// The most recent OpenSSL error reason (never key material), and the queue cleared.
std::string openssl_reason() {
  const char* reason = ERR_reason_error_string(ERR_peek_last_error());
  std::string out = reason ? reason : "unknown reason";
  ERR_clear_error();
  return out;
}

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

Status configure_server_tls(SSL_CTX* ctx, const std::filesystem::path& cert_chain,
                            const std::filesystem::path& key) {
  auto fail = [](Errc code, std::string what) {
    return make_error(code, what + ": " + openssl_reason());
  };
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    return fail(Errc::internal, "cannot set TLS protocol versions");
  if (SSL_CTX_set_cipher_list(ctx, std::string(kTls12Ciphers).c_str()) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, std::string(kTls13Suites).c_str()) != 1)
    return fail(Errc::internal, "cannot set TLS cipher suites");
  if (SSL_CTX_set1_groups_list(ctx, std::string(kGroups).c_str()) != 1)
    return fail(Errc::internal, "cannot set TLS key exchange groups");
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  static const unsigned char kSessionContext[] = "medvault";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);

  std::error_code ec;
  if (!std::filesystem::is_regular_file(cert_chain, ec))
    return make_error(Errc::io, "TLS certificate not found: " + cert_chain.string());
  if (!std::filesystem::is_regular_file(key, ec))
    return make_error(Errc::io, "TLS private key not found: " + key.string());
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_chain.c_str()) != 1)
    return fail(Errc::invalid, "cannot load TLS certificate " + cert_chain.string());
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return fail(Errc::invalid, "cannot load TLS private key " + key.string());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return fail(Errc::invalid, "TLS private key does not match the certificate");
  return ok_status();
}

class ClientTrust {
 public:
  X509_STORE* store = nullptr;
  STACK_OF(X509_NAME)* names = nullptr;
  // A TLS session made under another trust is not resumed under this one
  // (its certificate was verified against the old CRL).
  unsigned char session_context[16] = {};
  ~ClientTrust() {
    X509_STORE_free(store);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
  }
};

Result<std::shared_ptr<const ClientTrust>> load_client_trust(const std::filesystem::path& ca,
                                                             const std::filesystem::path& crl) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(ca, ec))
    return make_error(Errc::io, "cannot read the client CA file " + ca.string());
  if (!crl.empty() && !std::filesystem::is_regular_file(crl, ec))
    return make_error(Errc::io, "cannot read the client CRL file " + crl.string());
  std::unique_ptr<ClientTrust> t(new ClientTrust);
  if (RAND_bytes(t->session_context, sizeof t->session_context) != 1)
    return make_error(Errc::internal, "no randomness for the TLS session context");
  t->store = X509_STORE_new();
  if (!t->store) return make_error(Errc::internal, "cannot create a certificate store");
  if (X509_STORE_load_file(t->store, ca.c_str()) != 1)
    return make_error(Errc::invalid, "unusable client CA file " + ca.string() + ": " + openssl_reason());
  // The CA names sent in the CertificateRequest, so clients pick the right card.
  t->names = SSL_load_client_CA_file(ca.c_str());
  if (!t->names) return make_error(Errc::invalid, "no CA certificate in " + ca.string() + ": " + openssl_reason());
  if (!crl.empty()) {
    X509_LOOKUP* lookup = X509_STORE_add_lookup(t->store, X509_LOOKUP_file());
    if (!lookup || X509_load_crl_file(lookup, crl.c_str(), X509_FILETYPE_PEM) < 1)
      return make_error(Errc::invalid, "unusable client CRL file " + crl.string() + ": " + openssl_reason());
    X509_STORE_set_flags(t->store, X509_V_FLAG_CRL_CHECK);
  }
  return std::shared_ptr<const ClientTrust>(std::move(t));
}

Status apply_client_trust(SSL* ssl, const ClientTrust& trust) {
  STACK_OF(X509_NAME)* names = sk_X509_NAME_deep_copy(trust.names, X509_NAME_dup, X509_NAME_free);
  if (!names || SSL_set1_verify_cert_store(ssl, trust.store) != 1 ||
      SSL_set_session_id_context(ssl, trust.session_context, sizeof trust.session_context) != 1) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return make_error(Errc::internal, "cannot install the client certificate trust");
  }
  SSL_set_client_CA_list(ssl, names);  // takes ownership
  return ok_status();
}

Status configure_client_verification(SSL_CTX* ctx, const ClientTrust& trust) {
  SSL_CTX_set1_cert_store(ctx, trust.store);
  if (STACK_OF(X509_NAME)* names = sk_X509_NAME_deep_copy(trust.names, X509_NAME_dup, X509_NAME_free))
    SSL_CTX_set_client_CA_list(ctx, names);
  // Optional at the TLS level: requests without a certificate go on with
  // other credentials; a certificate that does not verify ends the handshake.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return ok_status();
}

namespace {
std::string sha256_hex(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}
}  // namespace

std::string verified_peer_sha256(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  return sha256_hex(cert);
}

Result<std::string> certificate_file_sha256(const std::filesystem::path& pem) {
  BioPtr bio(BIO_new_file(pem.c_str(), "r"));
  if (!bio) return make_error(Errc::io, "cannot read " + pem.string());
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return make_error(Errc::invalid, pem.string() + " holds no PEM certificate: " + openssl_reason());
  return sha256_hex(cert.get());
}

Status create_self_signed(const std::filesystem::path& tls_dir) {
  const auto cert_path = tls_dir / "cert.pem";
  const auto key_path = tls_dir / "key.pem";
  std::error_code ec;
  if (std::filesystem::exists(cert_path, ec) || std::filesystem::exists(key_path, ec))
    return make_error(Errc::conflict, "a TLS certificate already exists in " + tls_dir.string());
  std::filesystem::create_directories(tls_dir, ec);
  if (ec) return make_error(Errc::io, "cannot create " + tls_dir.string());
  std::filesystem::permissions(tls_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);

  auto fail = [](std::string what) { return make_error(Errc::internal, what + ": " + openssl_reason()); };
  PkeyPtr pkey(EVP_EC_gen("P-256"));
  if (!pkey) return fail("cannot generate the TLS key");
  X509Ptr x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1) return fail("cannot create the certificate");

  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())))
    return fail("cannot set the certificate serial number");
  constexpr long kValidDays = 825;
  if (!X509_gmtime_adj(X509_getm_notBefore(x.get()), 0) ||
      !X509_time_adj_ex(X509_getm_notAfter(x.get()), kValidDays, 0, nullptr))
    return fail("cannot set the certificate validity");

  X509_NAME* name = X509_get_subject_name(x.get());
  const auto* cn = reinterpret_cast<const unsigned char*>("localhost");
  const auto* org = reinterpret_cast<const unsigned char*>("medvault");
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, org, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1 ||
      X509_set_issuer_name(x.get(), name) != 1 || X509_set_pubkey(x.get(), pkey.get()) != 1)
    return fail("cannot set the certificate names");

  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
      {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
      // A distribution point so that revocation checkers find one; the
      // self-signed demo certificate is never revoked.
      {NID_crl_distribution_points, "URI:http://localhost/medvault.crl"},
  };
  for (const auto& [nid, value] : extensions) {
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value));
    if (!ext || X509_add_ext(x.get(), ext.get(), -1) != 1) return fail("cannot add a certificate extension");
  }
  if (X509_sign(x.get(), pkey.get(), EVP_sha256()) <= 0) return fail("cannot sign the certificate");

  BioPtr key_bio(BIO_new(BIO_s_secmem())), cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cert_bio.get(), x.get()) != 1)
    return fail("cannot encode the certificate");
  std::string key_pem = bio_text(key_bio.get());
  Status st = write_file_atomic(key_path, key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  MV_TRY(st);
  return write_file_atomic(cert_path, bio_text(cert_bio.get()), 0644);
}

}  // namespace medvault::http
