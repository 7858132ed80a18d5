#include "http/router.h"

#include <gtest/gtest.h>

namespace medvault::http {
namespace {

TEST(ParseTarget, SplitsAndDecodesPathAndQuery) {
  auto t = parse_target("/fhir/Patient?name=Jos%C3%A9+Mar%C3%ADa&birthdate=ge2020-01-01&_count=5");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->segments, (std::vector<std::string>{"fhir", "Patient"}));
  ASSERT_EQ(t->query.size(), 3u);
  EXPECT_EQ(t->query[0], (std::pair<std::string, std::string>{"name", "José María"}));
  EXPECT_EQ(t->query[1].second, "ge2020-01-01");
  EXPECT_EQ(t->encoded_query, "name=Jos%C3%A9+Mar%C3%ADa&birthdate=ge2020-01-01&_count=5");
}

TEST(ParseTarget, EncodedPlusStaysPlus) {
  auto t = parse_target("/fhir/Observation?date=ge2021-01-01T00:00:00%2B01:00");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->query[0].second, "ge2021-01-01T00:00:00+01:00");
}

TEST(ParseTarget, TrailingSlashIgnoredEmptyParamsSkipped) {
  auto t = parse_target("/fhir/Patient/?a=1&&b=");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->segments.size(), 2u);
  ASSERT_EQ(t->query.size(), 2u);
  EXPECT_EQ(t->query[1], (std::pair<std::string, std::string>{"b", ""}));
}

TEST(ParseTarget, RejectsHostileTargets) {
  for (const char* bad : {
           "fhir/Patient",                 // not origin-form
           "http://evil/fhir/Patient",     // absolute-form
           "/fhir/Patient/%zz",            // bad percent-encoding
           "/fhir/Patient?name=%",         // truncated escape
           "/fhir/Patient?name=%FF%FE",    // not UTF-8
           "/fhir/Patient?name=%C0%AF",    // overlong '/'
           "/fhir/Patient?name=a%00b",     // NUL
           "/fhir/Patient?name=a%0d%0aX",  // CR LF
           "/fhir/Patient/%ED%A0%80",      // UTF-16 surrogate
           "/fhir//Patient",               // empty segment
           "/fhir/../etc/passwd",          // dot segment
           "/fhir/Patient/%2e%2e",         // encoded dot segment
           "/fhir/Patient?=x",             // parameter without a name
           "",
       }) {
    EXPECT_FALSE(parse_target(bad).ok()) << bad;
  }
}

TEST(ParseTarget, EncodedSlashStaysInsideTheSegment) {
  auto t = parse_target("/fhir/Patient/a%2Fb");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->segments.size(), 3u);
  EXPECT_EQ(t->segments[2], "a/b");  // then refused as an id by the handler
}

TEST(ParseForm, DecodesFormBodies) {
  auto p = parse_form("family=M%C3%BCller&given=Anna+Lena");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].second, "Müller");
  EXPECT_EQ((*p)[1].second, "Anna Lena");
  EXPECT_FALSE(parse_form("a=%G1").ok());
  EXPECT_FALSE(parse_form("a=%80").ok());
  EXPECT_TRUE(parse_form("").ok());
}

TEST(ParseForm, ReadsOnlyTheGivenBytes) {
  // Boost 1.81's parse_query reads up to a NUL (boostorg/url#757): the
  // parsers must stay within their view.
  const std::string buffer = "name=abcXYZ&extra=1";
  auto p = parse_form(std::string_view(buffer).substr(0, 8));
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].second, "abc");
  auto t = parse_target(std::string_view("/fhir/Patient?name=abcXYZ").substr(0, 22));
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->query.size(), 1u);
  EXPECT_EQ(t->query[0].second, "abc");
  EXPECT_FALSE(parse_form(std::string_view("a=1\0b=2", 7)).ok());
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_FALSE(is_valid_utf8("\xC3"));                 // truncated
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));             // truncated
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));             // overlong
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));         // overlong
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));     // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));         // surrogate
  EXPECT_FALSE(is_valid_utf8("\x80"));                 // lone continuation
}

Route route(std::string_view method, std::string_view target) {
  auto t = parse_target(target);
  EXPECT_TRUE(t.ok()) << target;
  return match_route(method, t->segments);
}

TEST(MatchRoute, FhirInteractions) {
  struct Case {
    const char* method;
    const char* target;
    RouteKind kind;
    std::string_view tmpl;
  } cases[] = {
      {"GET", "/healthz", RouteKind::healthz, "/healthz"},
      {"GET", "/metrics", RouteKind::metrics, "/metrics"},
      {"GET", "/fhir/metadata", RouteKind::metadata, "/fhir/metadata"},
      {"POST", "/fhir", RouteKind::bundle, "/fhir"},
      {"POST", "/fhir/", RouteKind::bundle, "/fhir"},
      {"GET", "/fhir/_history", RouteKind::history_system, "/fhir/_history"},
      {"GET", "/fhir/Patient", RouteKind::search, "/fhir/{type}"},
      {"POST", "/fhir/Patient", RouteKind::create, "/fhir/{type}"},
      {"POST", "/fhir/Patient/_search", RouteKind::search, "/fhir/{type}/_search"},
      {"GET", "/fhir/Patient/_history", RouteKind::history_type, "/fhir/{type}/_history"},
      {"GET", "/fhir/Patient/p1", RouteKind::read, "/fhir/{type}/{id}"},
      {"PUT", "/fhir/Patient/p1", RouteKind::update, "/fhir/{type}/{id}"},
      {"DELETE", "/fhir/Patient/p1", RouteKind::remove, "/fhir/{type}/{id}"},
      {"GET", "/fhir/Patient/p1/_history", RouteKind::history_instance, "/fhir/{type}/{id}/_history"},
      {"GET", "/fhir/Patient/p1/_history/3", RouteKind::vread, "/fhir/{type}/{id}/_history/{vid}"},
      {"GET", "/fhir/Patient/p1/$everything", RouteKind::everything, "/fhir/Patient/{id}/$everything"},
      {"GET", "/api/users", RouteKind::api, "/api/*"},
      {"GET", "/", RouteKind::web, "/"},
      {"GET", "/fhir/Observation/o1/$everything", RouteKind::not_found, "unmatched"},
      {"GET", "/fhir/Patient/$validate", RouteKind::not_found, "unmatched"},
      {"GET", "/fhir/$export", RouteKind::not_found, "unmatched"},
      {"GET", "/fhir/Patient/p1/_history/3/x", RouteKind::not_found, "unmatched"},
      {"GET", "/fhir/Patient/p1/other", RouteKind::not_found, "unmatched"},
      {"GET", "/static/app.js", RouteKind::web, "/static/{file}"},
  };
  for (const auto& c : cases) {
    Route r = route(c.method, c.target);
    EXPECT_EQ(r.kind, c.kind) << c.method << " " << c.target;
    EXPECT_EQ(r.tmpl, c.tmpl) << c.method << " " << c.target;
  }
  Route r = route("GET", "/fhir/Observation/o-1/_history/12");
  EXPECT_EQ(r.type, "Observation");
  EXPECT_EQ(r.id, "o-1");
  EXPECT_EQ(r.version, "12");
  EXPECT_TRUE(route("POST", "/fhir/Patient/_search").post_search);
  EXPECT_FALSE(route("GET", "/fhir/Patient").post_search);
}

TEST(MatchRoute, WrongMethodIs405WithAllow) {
  Route r = route("PATCH", "/fhir/Patient/p1");
  EXPECT_EQ(r.kind, RouteKind::method_not_allowed);
  EXPECT_EQ(r.allow, "GET, PUT, DELETE");
  EXPECT_EQ(route("DELETE", "/fhir/Patient").allow, "GET, POST");
  EXPECT_EQ(route("GET", "/fhir").kind, RouteKind::method_not_allowed);
  EXPECT_EQ(route("get", "/fhir/Patient").kind, RouteKind::method_not_allowed);  // case-sensitive
  EXPECT_EQ(route("POST", "/healthz").kind, RouteKind::method_not_allowed);
}

TEST(MatchRoute, WebAppFilesByGetAndHeadOnly) {
  for (const char* m : {"GET", "HEAD"}) {
    EXPECT_EQ(route(m, "/").kind, RouteKind::web) << m;
    Route r = route(m, "/static/app.css");
    EXPECT_EQ(r.kind, RouteKind::web) << m;
    EXPECT_EQ(r.id, "app.css");
    EXPECT_EQ(r.tmpl, "/static/{file}");
  }
  for (const char* target : {"/", "/static/app.js"}) {
    for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "get"}) {
      Route r = route(m, target);
      EXPECT_EQ(r.kind, RouteKind::method_not_allowed) << m << " " << target;
      EXPECT_EQ(r.allow, "GET, HEAD");
    }
  }
  // One flat directory: nothing deeper, and /static itself is no file.
  EXPECT_EQ(route("GET", "/static").kind, RouteKind::not_found);
  EXPECT_EQ(route("GET", "/static/a/b.js").kind, RouteKind::not_found);
  EXPECT_EQ(route("GET", "/index.html").kind, RouteKind::not_found);
  // An encoded slash or dot-dot stays a file name that no file has.
  EXPECT_EQ(route("GET", "/static/..%2Fvault.db").id, "../vault.db");
  EXPECT_FALSE(parse_target("/static/..").ok());
}

}  // namespace
}  // namespace medvault::http
