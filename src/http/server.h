// The HTTPS server: FHIR R4 REST at /fhir, administrative endpoints at /api,
// /healthz and /metrics. Free of Beast and OpenSSL types (the networking
// lives in server.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "common/result.h"
#include "vault/vault.h"

namespace medvault::http {

struct ServeOptions {
  // "HOST:PORT" with an IPv4 literal, "[IPv6]" literal or "localhost"; port 0
  // picks a free port.
  std::string listen = "127.0.0.1:8443";
  // Default DIR/tls/cert.pem and DIR/tls/key.pem (DIR: the vault directory).
  std::filesystem::path cert, key;
  int threads = 0;  // I/O threads; 0 = 2 per core (answers wait for the disk off-thread)
  size_t max_header = 16 * 1024;          // request line + headers; more: 431
  size_t max_body = 16 * 1024 * 1024;     // more: 413
  size_t max_connections = 1024;          // more are closed at once
  int idle_timeout_s = 30;                // keep-alive wait and body read
  int header_timeout_s = 10;              // TLS handshake, and the first request's headers
  // The origin browsers use, https://HOST[:PORT]: WebAuthn's rpId is HOST,
  // and requests with another Origin are refused. Default
  // https://localhost:<listening port>.
  std::string public_url;
  int64_t session_idle_s = 15 * 60;       // sessions end after this long unused
  int64_t session_max_s = 12 * 60 * 60;   // and this long after sign-in
  // Mutual TLS: client certificates are requested (optional) and verified
  // against these CA certificates (PEM) and, if given, this CRL (PEM);
  // a revoked or unverifiable certificate fails the handshake.
  // SIGHUP re-reads both files (a bad new file keeps the previous ones).
  std::filesystem::path client_ca, client_crl;
  // Dead sessions, ceremonies, step-up tokens and old guessing counters
  // are deleted this often (Sessions::purge); 0: never.
  int purge_interval_s = 600;
};

// Serves until SIGINT or SIGTERM (SIGHUP reloads the client CA and CRL), then stops accepting, closes connections
// and returns. Once listening, logs {"event":"listening","port":N} as one
// line on stderr and calls on_listening(port) (from the calling thread).
// Errc::invalid for a bad listen address, Errc::io if it cannot bind,
// Errc::io / Errc::invalid for an unreadable or unusable certificate or key.
//
// Repository calls are synchronous (SQLite): a handler runs on an I/O thread
// for the duration of one repository call. The calls are short; requests on
// other connections proceed on the other threads.
Status serve(vault::Vault& vault, const ServeOptions& opts,
             std::function<void(uint16_t port)> on_listening = {});

// Writes TLS_DIR/key.pem (ECDSA P-256, mode 0600) and TLS_DIR/cert.pem, a
// self-signed X.509 certificate for CN=localhost with SAN DNS:localhost and
// IP:127.0.0.1, valid 825 days. Errc::conflict if either file exists.
Status create_self_signed(const std::filesystem::path& tls_dir);

}  // namespace medvault::http
