// The small parsers and checks the FHIR handlers share.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "http/api.h"
#include "http/fhir_handlers.h"

namespace medvault::http {
namespace {

TEST(Helpers, IfMatch) {
  EXPECT_EQ(parse_if_match("").value(), std::nullopt);
  EXPECT_EQ(parse_if_match("W/\"3\"").value(), 3u);
  EXPECT_EQ(parse_if_match("\"12\"").value(), 12u);
  EXPECT_EQ(parse_if_match(" W/\"7\" ").value(), 7u);
  for (const char* bad : {"3", "W/3", "W/\"\"", "W/\"-1\"", "W/\"0\"", "W/\"3a\"", "*", "W/\"99999999999999999999999\"",
                          "\"1\", \"2\""})
    EXPECT_FALSE(parse_if_match(bad).ok()) << bad;
}

TEST(Helpers, VersionAndCount) {
  EXPECT_EQ(parse_version("1").value(), 1u);
  EXPECT_EQ(parse_version("18446744073709551615").value(), UINT64_MAX);
  for (const char* bad : {"", "0", "-1", "+1", "1.0", "18446744073709551616", " 1", "1;DROP"})
    EXPECT_FALSE(parse_version(bad).ok()) << bad;
  EXPECT_EQ(parse_count("0").value(), 0u);
  EXPECT_EQ(parse_count("50").value(), 50u);
  for (const char* bad : {"", "-5", "5x", "1e3"}) EXPECT_FALSE(parse_count(bad).ok()) << bad;
}

TEST(Helpers, Instants) {
  EXPECT_EQ(parse_instant("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(parse_instant("1970-01-01T01:00:00+01:00").value(), 0);
  EXPECT_EQ(parse_instant("2024-02-29T12:00:00.250Z").value(), 1709208000250);
  EXPECT_EQ(parse_instant("2024-02-29").value(), 1709164800000);
  for (const char* bad : {"", "yesterday", "2023-02-29", "2024-01-01T12:00", "2024-13-01", "2024-01-01T25:00:00Z"})
    EXPECT_FALSE(parse_instant(bad).ok()) << bad;
}

TEST(Helpers, HttpDateAndEtag) {
  EXPECT_EQ(http_date(784111777000), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(etag(4), "W/\"4\"");
}

TEST(Helpers, ContentTypes) {
  EXPECT_TRUE(check_json_content_type("application/fhir+json").ok());
  EXPECT_TRUE(check_json_content_type("application/fhir+json; charset=UTF-8").ok());
  EXPECT_TRUE(check_json_content_type("Application/JSON").ok());
  for (const char* bad : {"", "text/plain", "application/fhir+xml", "application/x-www-form-urlencoded",
                          "application/json; charset=latin1", "application/jsonx"}) {
    auto st = check_json_content_type(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().code, Errc::unsupported_media);
  }
}

TEST(Helpers, AcceptAndFormat) {
  EXPECT_TRUE(check_accept("", std::nullopt).ok());
  EXPECT_TRUE(check_accept("application/fhir+json", std::nullopt).ok());
  EXPECT_TRUE(check_accept("text/html,application/xml;q=0.9,*/*;q=0.8", std::nullopt).ok());
  EXPECT_FALSE(check_accept("application/fhir+xml", std::nullopt).ok());
  EXPECT_TRUE(check_accept("application/fhir+xml", "json").ok());  // _format wins
  EXPECT_TRUE(check_accept("", "application/fhir+json").ok());
  EXPECT_FALSE(check_accept("", "xml").ok());
  EXPECT_EQ(check_accept("", "turtle").error().code, Errc::unsupported_media);
}

TEST(Helpers, Prefer) {
  Prefer p = parse_prefer("");
  EXPECT_FALSE(p.strict);
  EXPECT_FALSE(p.return_given);
  p = parse_prefer("return=minimal, handling=strict");
  EXPECT_TRUE(p.strict);
  EXPECT_EQ(p.ret, Prefer::Return::minimal);
  EXPECT_TRUE(p.return_given);
  p = parse_prefer("handling=lenient; return=OperationOutcome");
  EXPECT_FALSE(p.strict);
  EXPECT_EQ(p.ret, Prefer::Return::outcome);
}

TEST(Helpers, TypesAndIds) {
  EXPECT_TRUE(check_type("Patient").ok());
  EXPECT_EQ(check_type("Bundle").error().code, Errc::not_found);       // R4, not stored here
  EXPECT_EQ(check_type("Patients").error().code, Errc::not_found);     // not R4
  EXPECT_EQ(check_type("Bundle").error().message.find("not supported") != std::string::npos, true);
  EXPECT_TRUE(check_id("a-1.B").ok());
  for (const std::string bad : {"", "a/b", "../x", "x'; DROP TABLE r;--", "a b", "a%2F", "65aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
    EXPECT_EQ(check_id(bad).error().code, Errc::invalid) << bad;
  const std::string u = new_uuid();
  EXPECT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(u, new_uuid());
  EXPECT_TRUE(check_id(u).ok());
}

TEST(Helpers, BearerToken) {
  EXPECT_EQ(bearer_token("Bearer mvt_abc-DEF_123"), "mvt_abc-DEF_123");
  EXPECT_EQ(bearer_token("bearer  tok=="), "tok==");
  for (const char* bad : {"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "Bearer a=b", "Bearertok"})
    EXPECT_EQ(bearer_token(bad), "") << bad;
}

TEST(Helpers, HostsAndLoopback) {
  for (const char* ok : {"localhost", "localhost:8443", "127.0.0.1:1", "[::1]:8443", "ehr.example.org"})
    EXPECT_TRUE(is_safe_host(ok)) << ok;
  for (const char* bad : {"", ":80", "a b", "evil.com/x", "h:99999x", "[::1", "h\r\nX: y", "user@host"})
    EXPECT_FALSE(is_safe_host(bad)) << bad;
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_TRUE(is_loopback("::ffff:127.0.0.5"));
  EXPECT_FALSE(is_loopback("10.0.0.1"));
  EXPECT_FALSE(is_loopback("::ffff:10.0.0.1"));
}

TEST(Helpers, SecurityHeaders) {
  Response r;
  add_security_headers(r, "rid42");
  EXPECT_EQ(*r.get("Cache-Control"), "no-store");
  EXPECT_EQ(*r.get("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(*r.get("X-Frame-Options"), "DENY");
  EXPECT_EQ(*r.get("Referrer-Policy"), "no-referrer");
  EXPECT_NE(r.get("Strict-Transport-Security")->find("max-age="), std::string::npos);
  EXPECT_NE(r.get("Content-Security-Policy")->find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(*r.get("X-Request-Id"), "rid42");
}

namespace json = boost::json;

TEST(RewriteReferences, ReplacesMappedUrnsEverywhere) {
  json::value v = json::parse(R"({
    "resourceType": "Observation",
    "subject": {"reference": "urn:uuid:aaa"},
    "performer": [{"reference": "Practitioner/p1"}, {"reference": "urn:uuid:bbb"}],
    "hasMember": [{"reference": "urn:uuid:aaa", "display": "urn:uuid:aaa"}],
    "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:zzz"}]
  })");
  std::unordered_map<std::string, std::string> ids{{"urn:uuid:aaa", "Patient/1"}, {"urn:uuid:bbb", "Practitioner/2"}};
  ASSERT_TRUE(rewrite_references(v, ids, "Bundle.entry[0].resource").ok());
  EXPECT_EQ(v.at("subject").at("reference"), "Patient/1");
  EXPECT_EQ(v.at("performer").at(0).at("reference"), "Practitioner/p1");
  EXPECT_EQ(v.at("performer").at(1).at("reference"), "Practitioner/2");
  EXPECT_EQ(v.at("hasMember").at(0).at("reference"), "Patient/1");
  EXPECT_EQ(v.at("hasMember").at(0).at("display"), "urn:uuid:aaa");          // not a reference
  EXPECT_EQ(v.at("identifier").at(0).at("value"), "urn:uuid:zzz");           // identifiers untouched
}

TEST(RewriteReferences, DanglingUrnIsAnErrorWithItsPath) {
  json::value v = json::parse(R"({"resourceType":"Encounter","participant":[{"individual":{"reference":"urn:uuid:nope"}}]})");
  auto st = rewrite_references(v, {}, "Bundle.entry[3].resource");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::invalid);
  EXPECT_EQ(st.error().path, "Bundle.entry[3].resource.participant[0].individual.reference");
}

}  // namespace
}  // namespace medvault::http
