// Fuzzes what the server does with untrusted bytes before any handler runs:
// the Beast request parser with the server's limits, then the request-target
// parsing and routing (http/router.h), the form-body parser of POST _search,
// and the header parsers (Authorization, Content-Type, Accept/_format,
// Prefer, If-Match, Host). Also feeds the raw input to parse_target directly.
// Invariants checked: anything parse_target accepts is UTF-8 without control
// characters, has no empty or dot segments, and routes without crashing.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/api.h"
#include "http/fhir_handlers.h"
#include "http/router.h"

namespace bhttp = boost::beast::http;
using namespace medvault::http;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool clean(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return is_valid_utf8(s);
}

void target_and_route(std::string_view method, std::string_view target) {
  auto t = parse_target(target);
  if (!t.ok()) return;
  for (const auto& s : t->segments) check(!s.empty() && s != "." && s != ".." && clean(s));
  for (const auto& [k, v] : t->query) check(!k.empty() && clean(k) && clean(v));
  Route r = match_route(method, t->segments);
  check(!r.tmpl.empty());
  if (r.kind == RouteKind::method_not_allowed) check(!r.allow.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  target_and_route("GET", input);

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == bhttp::error::need_more) break;
    if (ec) return 0;
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  const auto& req = parser.get();
  target_and_route(req.method_string(), req.target());

  (void)bearer_token(req[bhttp::field::authorization]);
  (void)check_json_content_type(req[bhttp::field::content_type]);
  (void)check_accept(req[bhttp::field::accept], std::nullopt);
  (void)parse_prefer(req["Prefer"]);
  auto im = parse_if_match(req[bhttp::field::if_match]);
  if (im.ok() && *im) check(**im > 0);
  (void)is_safe_host(req[bhttp::field::host]);
  auto form = parse_form(req.body());
  if (form.ok())
    for (const auto& [k, v] : *form) check(!k.empty() && clean(k) && clean(v));
  return 0;
}
