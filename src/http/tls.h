// TLS for the server: the SSL_CTX settings (protocols, suites, options) and
// the self-signed localhost certificate that `medvault init` writes.
#pragma once

#include <openssl/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace medvault::http {

// TLS 1.2 cipher suites: ECDHE key exchange and AEAD only (ECDSA and RSA
// certificates). TLS 1.3 suites are all AEAD with ephemeral key exchange.
inline constexpr std::string_view kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr std::string_view kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
inline constexpr std::string_view kGroups = "X25519:P-256:P-384";

// Applies medvault's server settings to ctx: TLS 1.2-1.3 only, the suites
// above in server preference order, no compression, no renegotiation,
// session tickets allowed; then loads the certificate chain (PEM) and the
// private key and checks they match. Errc::io when a file cannot be read,
// Errc::invalid when the certificate or key is unusable.
Status configure_server_tls(SSL_CTX* ctx, const std::filesystem::path& cert_chain,
                            const std::filesystem::path& key);

// The trust of client certificates as loaded from the CA and CRL files at
// one moment: immutable once built, so running handshakes keep the one they
// started with while a reload (SIGHUP) builds the next.
class ClientTrust;

// Builds a verification store from the CA certificates in `ca` (PEM) and,
// unless `crl` is empty, the CRL in `crl` (PEM) with CRL checking on, plus
// the CA names sent in the CertificateRequest. Errc::io / Errc::invalid for
// unreadable or unusable files.
Result<std::shared_ptr<const ClientTrust>> load_client_trust(const std::filesystem::path& ca,
                                                             const std::filesystem::path& crl);

// Asks clients for a certificate (optional: a client without one still
// connects) and verifies any certificate presented against `trust` (see
// load_client_trust): a revoked, expired or foreign certificate fails the
// handshake.
Status configure_client_verification(SSL_CTX* ctx, const ClientTrust& trust);

// Makes a new connection (before its handshake) verify client certificates
// against `trust` instead of the context's store. Errc::internal on failure.
Status apply_client_trust(SSL* ssl, const ClientTrust& trust);

// Lower-case hex SHA-256 of the DER certificate the peer presented and the
// handshake verified, or "" when there is none.
std::string verified_peer_sha256(SSL* ssl);

// The same fingerprint of the first certificate in a PEM file (to map a
// client certificate to an account). Errc::io / Errc::invalid.
Result<std::string> certificate_file_sha256(const std::filesystem::path& pem);

}  // namespace medvault::http
