// The HTTP request and response as the handlers see them: plain structs,
// free of Beast, so routing and the FHIR handlers can be unit-tested (and
// compiled) without the networking layer. server.cc converts to and from
// Beast messages.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/entry.h"

namespace medvault::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // origin-form request target, e.g. "/fhir/Patient?name=x"
  // The request headers the handlers use (empty when absent).
  std::string authorization;
  std::string content_type;
  std::string accept;
  std::string if_match;
  std::string prefer;
  std::string purpose_of_use;  // X-Purpose-Of-Use
  std::string step_up;         // X-Step-Up: a fresh TOTP code (break-the-glass)
  std::string host;
  std::string origin;          // Origin (browsers send it on cross-site and on non-GET requests)
  std::string session_cookie;  // the __Host-mv_session cookie's value, if any
  std::string csrf;            // X-CSRF-Token
  std::string client_cert_sha256;  // hex SHA-256 of a client certificate the TLS layer verified
  std::string body;
  std::string client_address;  // IP address of the peer
  bool client_loopback = false;  // the peer is on the loopback interface
  std::string request_id;      // assigned by the server, never taken from the client
  // The server will hold the response until its audit entries are durable:
  // FHIR reads then return them in Response::held_audit instead of waiting,
  // and FHIR writes commit without waiting for the disk (held_sync).
  bool hold_for_audit = false;
};

struct Response {
  int status = 200;
  Headers headers;  // besides the security headers, which the dispatcher adds
  std::string body;
  // Route template for logs and metrics ("/fhir/{type}/{id}"), never the raw
  // target: query strings and ids stay out of logs.
  std::string route = "unmatched";
  // Audit entries of this answer not yet on disk (only when the request had
  // hold_for_audit): the server sends nothing before they are durable, and
  // answers 503 instead if they cannot be written.
  std::vector<audit::Entry> held_audit;
  // A write committed without waiting for the disk (only with
  // hold_for_audit): the server sends nothing before it is durable either.
  bool held_sync = false;

  void set(std::string name, std::string value) {
    for (auto& [n, v] : headers)
      if (n == name) { v = std::move(value); return; }
    headers.emplace_back(std::move(name), std::move(value));
  }
  const std::string* get(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (n == name) return &v;
    return nullptr;
  }
};

}  // namespace medvault::http
