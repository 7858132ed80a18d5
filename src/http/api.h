// The request dispatcher: target parsing, routing, authentication, the
// request context, the FHIR handlers, and the headers every response carries.
// Beast-free: server.cc hands it a Request and writes back the Response.
#pragma once

#include <cstddef>
#include <string>

#include "http/message.h"
#include "http/metrics.h"
#include "vault/vault.h"

namespace medvault::http {

struct ApiOptions {
  size_t max_body = 16 * 1024 * 1024;
  // Host for absolute URLs (Location, fullUrl, paging links) when the request
  // has no usable Host header, e.g. "127.0.0.1:8443".
  std::string default_host = "localhost";
  // The server's own origin (https://HOST[:PORT]); a request whose Origin
  // header names another is refused. Empty: no check (unit tests).
  std::string origin;
};

class Api {
 public:
  Api(vault::Vault& vault, Metrics& metrics, ApiOptions opts);

  // Never throws; every failure is an OperationOutcome (or plain text for
  // /healthz and /metrics) with the security headers set.
  Response handle(const Request& req);

 private:
  Response dispatch(const Request& req);
  Response break_glass(const vault::RequestContext& ctx, const Request& req);

  vault::Vault& vault_;
  Metrics& metrics_;
  ApiOptions opts_;
};

// Headers on every response: HSTS, CSP, nosniff, frame and referrer
// policies, Cache-Control no-store (everything this server returns is
// patient data or about the server), the request id.
void add_security_headers(Response& r, std::string_view request_id);

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 (textual forms).
bool is_loopback(std::string_view address);

// The token of "Authorization: Bearer <token>" (RFC 6750 b64token), or empty.
std::string_view bearer_token(std::string_view authorization);

// A Host header usable in absolute URLs (hostname, IPv4 or [IPv6], optional
// port); anything else is ignored.
bool is_safe_host(std::string_view host);

}  // namespace medvault::http
