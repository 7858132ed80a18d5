// Request-target parsing and route matching: pure functions of their input
// (no I/O, no Beast), fuzzed by fuzz/http_request_fuzz.cc.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace medvault::http {

using Params = std::vector<std::pair<std::string, std::string>>;

struct Target {
  std::vector<std::string> segments;  // percent-decoded path segments, "/fhir/Patient" -> {"fhir","Patient"}
  Params query;                        // percent-decoded ('+' is a space), in order
  std::string encoded_query;           // the query as sent, without '?', for paging links
};

// Parses an origin-form target ("/path?query"). Errc::invalid for anything
// else (absolute-form, invalid percent-encoding, decoded bytes that are not
// UTF-8 or contain NUL or other control characters, empty inner segments,
// dot segments). A trailing slash is ignored.
Result<Target> parse_target(std::string_view target);

// Parses an application/x-www-form-urlencoded body (POST _search) with the
// same rules as the query.
Result<Params> parse_form(std::string_view body);

// Validates UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

enum class RouteKind {
  healthz,           // GET /healthz
  metrics,           // GET /metrics
  metadata,          // GET /fhir/metadata
  bundle,            // POST /fhir (transaction / batch)
  history_system,    // GET /fhir/_history
  search,            // GET /fhir/{type}, POST /fhir/{type}/_search
  create,            // POST /fhir/{type}
  history_type,      // GET /fhir/{type}/_history
  read,              // GET /fhir/{type}/{id}
  update,            // PUT /fhir/{type}/{id}
  remove,            // DELETE /fhir/{type}/{id}
  history_instance,  // GET /fhir/{type}/{id}/_history
  vread,             // GET /fhir/{type}/{id}/_history/{vid}
  everything,        // GET|POST /fhir/Patient/{id}/$everything
  api,               // anything under /api (no endpoints yet)
  web,               // GET|HEAD / and /static/{file}: the staff web app (file name in Route::id)
  not_found,
  method_not_allowed,
};

struct Route {
  RouteKind kind = RouteKind::not_found;
  // Template for logs and metrics, e.g. "/fhir/{type}/{id}"; no ids, no query.
  std::string_view tmpl = "unmatched";
  std::string type, id, version;  // as captured, not yet validated
  std::string_view allow;         // the Allow header for method_not_allowed
  bool post_search = false;       // search by POST _search (form body)
};

// Matches a method and decoded segments to a route. Methods are case-sensitive
// (RFC 9110); the server answers HEAD as GET without the body.
Route match_route(std::string_view method, const std::vector<std::string>& segments);

}  // namespace medvault::http
