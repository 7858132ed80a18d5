#include "http/router.h"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/url_view.hpp>

namespace medvault::http {
namespace {

namespace urls = boost::urls;

// Decoded text that may reach handlers: UTF-8 without control characters.
bool acceptable_text(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return is_valid_utf8(s);
}

// Decodes an already-validated encoded query ('+' is a space). Each key and
// value is decoded from the encoded view; boost::urls::params_view is not
// used: in Boost 1.81 its string_view constructors read the buffer as a
// NUL-terminated string (boostorg/url#757, found by fuzz/http_request_fuzz.cc).
Result<Params> decode_params(urls::params_encoded_view encoded) {
  urls::encoding_opts opt;
  opt.space_as_plus = true;
  Params out;
  for (auto p : encoded) {
    std::string key = p.key.decode(opt);
    std::string value = p.has_value ? p.value.decode(opt) : std::string();
    if (key.empty()) {
      if (value.empty()) continue;  // "a=1&&b=2"
      return make_error(Errc::invalid, "query parameter without a name");
    }
    if (!acceptable_text(key) || !acceptable_text(value))
      return make_error(Errc::invalid, "query parameter is not valid UTF-8 text");
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) { ++p; continue; }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
    else return false;
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

Result<Target> parse_target(std::string_view target) {
  try {
    auto parsed = urls::parse_origin_form(target);
    if (!parsed) return make_error(Errc::invalid, "malformed request target");
    const urls::url_view& u = *parsed;
    Target t;
    for (auto seg : u.segments()) t.segments.push_back(std::string(seg));
    if (!t.segments.empty() && t.segments.back().empty()) t.segments.pop_back();
    for (const auto& s : t.segments) {
      if (s.empty() || s == "." || s == "..")
        return make_error(Errc::invalid, "malformed request path");
      if (!acceptable_text(s)) return make_error(Errc::invalid, "request path is not valid UTF-8 text");
    }
    if (u.has_query()) {
      MV_ASSIGN(t.query, decode_params(u.encoded_params()));
      t.encoded_query = std::string(u.encoded_query());
    }
    return t;
  } catch (const std::exception&) {
    return make_error(Errc::invalid, "malformed request target");
  }
}

Result<Params> parse_form(std::string_view body) {
  try {
    // As the query of an origin-form target: boost::urls::parse_query of
    // Boost 1.81 reads its argument up to a NUL (boostorg/url#757).
    const std::string target = "/?" + std::string(body);
    auto parsed = urls::parse_origin_form(target);
    if (!parsed) return make_error(Errc::invalid, "malformed form body");
    return decode_params(parsed->encoded_params());
  } catch (const std::exception&) {
    return make_error(Errc::invalid, "malformed form body");
  }
}

Route match_route(std::string_view method, const std::vector<std::string>& seg) {
  Route r;
  // Sets the template and picks the kind by method; 405 when none matches.
  auto allow = [&](std::string_view tmpl, std::string_view allowed,
                   std::initializer_list<std::pair<std::string_view, RouteKind>> by_method) {
    r.tmpl = tmpl;
    r.allow = allowed;
    r.kind = RouteKind::method_not_allowed;
    for (auto [m, k] : by_method)
      if (m == method) { r.kind = k; break; }
  };
  const size_t n = seg.size();
  if (n == 0) {
    allow("/", "GET, HEAD", {{"GET", RouteKind::web}, {"HEAD", RouteKind::web}});
    return r;
  }
  if (seg[0] == "static" && n == 2) {
    allow("/static/{file}", "GET, HEAD", {{"GET", RouteKind::web}, {"HEAD", RouteKind::web}});
    r.id = seg[1];
    return r;
  }
  if (seg[0] == "healthz" && n == 1) {
    allow("/healthz", "GET", {{"GET", RouteKind::healthz}});
    return r;
  }
  if (seg[0] == "metrics" && n == 1) {
    allow("/metrics", "GET", {{"GET", RouteKind::metrics}});
    return r;
  }
  if (seg[0] == "api") {
    r.kind = RouteKind::api;
    r.tmpl = "/api/*";
    return r;
  }
  if (seg[0] != "fhir") return r;

  auto reserved = [](const std::string& s) { return !s.empty() && (s[0] == '_' || s[0] == '$'); };
  if (n == 1) {
    allow("/fhir", "POST", {{"POST", RouteKind::bundle}});
    return r;
  }
  if (n == 2 && seg[1] == "metadata") {
    allow("/fhir/metadata", "GET", {{"GET", RouteKind::metadata}});
    return r;
  }
  if (n == 2 && seg[1] == "_history") {
    allow("/fhir/_history", "GET", {{"GET", RouteKind::history_system}});
    return r;
  }
  if (reserved(seg[1])) return r;
  r.type = seg[1];
  if (n == 2) {
    allow("/fhir/{type}", "GET, POST",
          {{"GET", RouteKind::search}, {"POST", RouteKind::create}});
    return r;
  }
  if (n == 3 && seg[2] == "_search") {
    allow("/fhir/{type}/_search", "POST", {{"POST", RouteKind::search}});
    r.post_search = r.kind == RouteKind::search;
    return r;
  }
  if (n == 3 && seg[2] == "_history") {
    allow("/fhir/{type}/_history", "GET",
          {{"GET", RouteKind::history_type}});
    return r;
  }
  if (reserved(seg[2])) return r;
  r.id = seg[2];
  if (n == 3) {
    allow("/fhir/{type}/{id}", "GET, PUT, DELETE",
          {{"GET", RouteKind::read}, {"PUT", RouteKind::update}, {"DELETE", RouteKind::remove}});
    return r;
  }
  if (n == 4 && seg[3] == "$everything" && r.type == "Patient") {
    allow("/fhir/Patient/{id}/$everything", "GET, POST",
          {{"GET", RouteKind::everything}, {"POST", RouteKind::everything}});
    return r;
  }
  if (seg[3] == "_history" && n <= 5) {
    if (n == 4) {
      allow("/fhir/{type}/{id}/_history", "GET",
            {{"GET", RouteKind::history_instance}});
    } else {
      r.version = seg[4];
      allow("/fhir/{type}/{id}/_history/{vid}", "GET",
            {{"GET", RouteKind::vread}});
    }
    return r;
  }
  Route none;
  return none;
}

}  // namespace medvault::http
