#include "http/tls.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "http/server.h"

namespace medvault::http {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mv_http_tls_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Free> load_cert(const fs::path& p) {
  FILE* f = std::fopen(p.c_str(), "r");
  if (!f) return nullptr;
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return std::unique_ptr<X509, X509Free>(x);
}

TEST(SelfSigned, WritesAnEcdsaLocalhostCertificateAndAPrivateKey) {
  TempDir dir;
  const fs::path tls = dir.path() / "tls";
  ASSERT_TRUE(create_self_signed(tls).ok());

  struct stat st {};
  ASSERT_EQ(::stat((tls / "key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto cert = load_cert(tls / "cert.pem");
  ASSERT_TRUE(cert);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(pub), 256);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);

  // CN=localhost, self-issued, SAN DNS:localhost and IP:127.0.0.1.
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "localhost");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())), 0);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_host(cert.get(), "example.com", 0, 0, nullptr), 1);

  // Valid now, for 825 days.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())), 1);
  EXPECT_EQ(days, 825);
  EXPECT_LE(X509_cmp_current_time(X509_get0_notBefore(cert.get())), 0);

  // A CRL distribution point, server-auth usage.
  EXPECT_GE(X509_get_ext_by_NID(cert.get(), NID_crl_distribution_points, -1), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER);

  // The certificate verifies as its own trust anchor.
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, cert.get());
  X509_STORE_CTX* vctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(vctx, store, cert.get(), nullptr);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(vctx), "localhost", 0);
  EXPECT_EQ(X509_verify_cert(vctx), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx));
  X509_STORE_CTX_free(vctx);
  X509_STORE_free(store);

  // Never overwrites an existing certificate.
  auto again = create_self_signed(tls);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
}

TEST(ServerTls, ContextSettings) {
  TempDir dir;
  ASSERT_TRUE(create_self_signed(dir.path()).ok());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_TRUE(configure_server_tls(ctx, dir.path() / "cert.pem", dir.path() / "key.pem").ok());
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
  const uint64_t opts = SSL_CTX_get_options(ctx);
  EXPECT_TRUE(opts & SSL_OP_NO_COMPRESSION);
  EXPECT_TRUE(opts & SSL_OP_CIPHER_SERVER_PREFERENCE);
  EXPECT_TRUE(opts & SSL_OP_NO_RENEGOTIATION);
  EXPECT_FALSE(opts & SSL_OP_NO_TICKET);

  // Every enabled suite is ECDHE (TLS 1.2) or TLS 1.3, and AEAD.
  SSL* ssl = SSL_new(ctx);
  STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl);
  ASSERT_GT(sk_SSL_CIPHER_num(ciphers), 0);
  int tls12 = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    const std::string name = SSL_CIPHER_get_name(c);
    EXPECT_TRUE(SSL_CIPHER_is_aead(c)) << name;
    const int kx = SSL_CIPHER_get_kx_nid(c);
    EXPECT_TRUE(kx == NID_kx_ecdhe || kx == NID_kx_any) << name;  // any: TLS 1.3
    if (kx == NID_kx_ecdhe) ++tls12;
  }
  EXPECT_EQ(tls12, 6);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}

TEST(ServerTls, MissingOrMismatchedFilesAreErrors) {
  TempDir a, b;
  ASSERT_TRUE(create_self_signed(a.path()).ok());
  ASSERT_TRUE(create_self_signed(b.path()).ok());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  auto missing = configure_server_tls(ctx, a.path() / "nope.pem", a.path() / "key.pem");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::io);
  auto mismatch = configure_server_tls(ctx, a.path() / "cert.pem", b.path() / "key.pem");
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, Errc::invalid);
  auto garbage = configure_server_tls(ctx, a.path() / "key.pem", a.path() / "key.pem");
  EXPECT_FALSE(garbage.ok());
  SSL_CTX_free(ctx);
}

TEST(ClientTrust, LoadsOrSaysWhyAndInstallsPerConnection) {
  TempDir a;
  ASSERT_TRUE(create_self_signed(a.path()).ok());
  const fs::path ca = a.path() / "cert.pem";
  auto trust = load_client_trust(ca, "");
  ASSERT_TRUE(trust.ok()) << trust.error().message;

  auto missing = load_client_trust(a.path() / "nope.pem", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::io);
  auto no_crl = load_client_trust(ca, a.path() / "nope.crl");
  ASSERT_FALSE(no_crl.ok());
  EXPECT_EQ(no_crl.error().code, Errc::io);
  const fs::path bad = a.path() / "bad.crl";
  {
    FILE* f = std::fopen(bad.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("-----BEGIN X509 CRL-----\nnot a CRL\n-----END X509 CRL-----\n", f);
    std::fclose(f);
  }
  auto garbage = load_client_trust(ca, bad);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, Errc::invalid);
  auto not_ca = load_client_trust(a.path() / "key.pem", "");
  ASSERT_FALSE(not_ca.ok());
  EXPECT_EQ(not_ca.error().code, Errc::invalid);

  // Two connections may hold two generations of trust at once.
  auto second = load_client_trust(ca, "");
  ASSERT_TRUE(second.ok());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL* s1 = SSL_new(ctx);
  SSL* s2 = SSL_new(ctx);
  ASSERT_TRUE(apply_client_trust(s1, **trust).ok());
  ASSERT_TRUE(apply_client_trust(s2, **second).ok());
  trust->reset();  // the connection keeps its own reference to the store
  ASSERT_NE(SSL_get_client_CA_list(s1), nullptr);
  EXPECT_EQ(sk_X509_NAME_num(SSL_get_client_CA_list(s1)), 1);
  EXPECT_EQ(sk_X509_NAME_num(SSL_get_client_CA_list(s2)), 1);
  SSL_free(s1);
  SSL_free(s2);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace medvault::http
