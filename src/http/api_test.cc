// The dispatcher and the FHIR handlers against an in-memory vault.
#include "http/api.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "http/fake_vault_test.h"

namespace medvault::http {
namespace {

namespace json = boost::json;

constexpr const char* kPatient =
    R"({"resourceType":"Patient","name":[{"family":"Durand","given":["Alice"]}],"gender":"female","birthDate":"1980-04-02"})";

class ApiTest : public ::testing::Test {
 protected:
  Response call(std::string method, std::string target, std::string body = "",
                std::string token = "mvt_doctor", std::string content_type = "application/fhir+json") {
    Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    if (!token.empty()) req.authorization = "Bearer " + token;
    if (req.method == "POST" || req.method == "PUT") req.content_type = std::move(content_type);
    req.host = "ehr.test:8443";
    req.client_address = address;
    req.client_loopback = is_loopback(address);
    req.request_id = "req" + std::to_string(++n_);
    req.if_match = if_match;
    req.prefer = prefer;
    req.purpose_of_use = purpose;
    req.accept = accept;
    return api.handle(req);
  }
  static json::value body(const Response& r) { return json::parse(r.body); }
  static std::string issue_code(const Response& r) {
    return std::string(body(r).at("issue").at(0).at("code").as_string());
  }
  std::string create_patient() {
    Response r = call("POST", "/fhir/Patient", kPatient);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(body(r).at("id").as_string());
  }

  testing::FakeVault vault;
  Metrics metrics;
  Api api{vault, metrics, ApiOptions{1024 * 1024, "localhost:8443", ""}};
  std::string address = "10.1.2.3", if_match, prefer, purpose, accept;
  int n_ = 0;
};

TEST_F(ApiTest, HealthzIsPublicAndEveryResponseHasSecurityHeaders) {
  for (const Response& r : {call("GET", "/healthz", "", ""), call("GET", "/fhir/Patient", "", ""),
                            call("GET", "/nowhere", "", "")}) {
    EXPECT_EQ(*r.get("Cache-Control"), "no-store");
    EXPECT_EQ(*r.get("X-Frame-Options"), "DENY");
    EXPECT_NE(r.get("Strict-Transport-Security"), nullptr);
    EXPECT_NE(r.get("Content-Security-Policy"), nullptr);
    EXPECT_NE(r.get("X-Request-Id"), nullptr);
  }
  EXPECT_EQ(call("GET", "/healthz", "", "").status, 200);
}

TEST_F(ApiTest, FhirNeedsABearerToken) {
  Response r = call("GET", "/fhir/Patient/abc", "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(*r.get("WWW-Authenticate"), "Bearer realm=\"medvault\"");
  EXPECT_EQ(issue_code(r), "login");
  r = call("GET", "/fhir/Patient/abc", "", "mvt_forged");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.get("WWW-Authenticate")->find("invalid_token"), std::string::npos);
  Request basic;
  basic.method = "GET";
  basic.target = "/fhir/Patient";
  basic.authorization = "Basic dXNlcjpwYXNz";
  EXPECT_EQ(api.handle(basic).status, 401);
  EXPECT_EQ(call("GET", "/api/users", "", "").status, 401);
  EXPECT_EQ(call("GET", "/api/users").status, 404);
  EXPECT_EQ(vault.repo.version_count(), 0u);
}

// Accounts::authenticate_bearer audits every failure: the API must ask it
// for every request that needs a subject, also without a usable credential.
TEST_F(ApiTest, EveryAuthenticationAttemptReachesTheAccounts) {
  Request basic;
  basic.method = "GET";
  basic.target = "/fhir/Patient";
  basic.authorization = "Basic dXNlcjpwYXNz";
  basic.client_address = "192.0.2.7";
  auto& accounts = static_cast<testing::FakeAccounts&>(vault.accounts());
  accounts.attempts.clear();
  EXPECT_EQ(api.handle(basic).status, 401);
  basic.authorization.clear();
  EXPECT_EQ(api.handle(basic).status, 401);
  basic.target = "/api/users";
  EXPECT_EQ(api.handle(basic).status, 401);
  basic.target = "/fhir/metadata";
  EXPECT_EQ(api.handle(basic).status, 200);  // public: no attempt
  basic.target = "/healthz";
  EXPECT_EQ(api.handle(basic).status, 200);
  using Attempt = std::pair<std::string, std::string>;
  EXPECT_EQ(accounts.attempts,
            (std::vector<Attempt>{{"", "192.0.2.7"}, {"", "192.0.2.7"}, {"", "192.0.2.7"}}));
}

TEST_F(ApiTest, MetadataIsPublicAndJson) {
  Response r = call("GET", "/fhir/metadata", "", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r).at("resourceType"), "CapabilityStatement");
  accept = "application/fhir+xml";
  EXPECT_EQ(call("GET", "/fhir/metadata", "", "").status, 415);
  accept.clear();
  EXPECT_EQ(call("GET", "/fhir/metadata?_format=xml", "", "").status, 415);
  EXPECT_EQ(call("GET", "/fhir/metadata?_format=json", "", "").status, 200);
}

TEST_F(ApiTest, CreateReadVreadUpdateDeleteHistory) {
  Response c = call("POST", "/fhir/Patient", kPatient);
  ASSERT_EQ(c.status, 201) << c.body;
  const std::string id(body(c).at("id").as_string());
  EXPECT_EQ(*c.get("Location"), "https://ehr.test:8443/fhir/Patient/" + id + "/_history/1");
  EXPECT_EQ(*c.get("ETag"), "W/\"1\"");
  EXPECT_NE(c.get("Last-Modified"), nullptr);

  Response r = call("GET", "/fhir/Patient/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, c.body);
  EXPECT_EQ(r.route, "/fhir/{type}/{id}");

  json::value updated = body(r);
  updated.as_object()["gender"] = "other";
  if_match = "W/\"1\"";
  Response u = call("PUT", "/fhir/Patient/" + id, json::serialize(updated));
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(*u.get("ETag"), "W/\"2\"");
  Response stale = call("PUT", "/fhir/Patient/" + id, json::serialize(updated));
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(issue_code(stale), "conflict");
  if_match.clear();

  Response v1 = call("GET", "/fhir/Patient/" + id + "/_history/1");
  ASSERT_EQ(v1.status, 200);
  EXPECT_EQ(body(v1).at("gender"), "female");
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "/_history/9").status, 404);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "/_history/x").status, 400);

  Response d = call("DELETE", "/fhir/Patient/" + id);
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(body(d).at("resourceType"), "OperationOutcome");
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 410);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "/_history/3").status, 410);

  Response h = call("GET", "/fhir/Patient/" + id + "/_history");
  ASSERT_EQ(h.status, 200);
  json::value hb = body(h);
  EXPECT_EQ(hb.at("type"), "history");
  EXPECT_EQ(hb.at("total"), 3);
  const auto& entries = hb.at("entry").as_array();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].at("request").at("method"), "DELETE");
  EXPECT_FALSE(entries[0].as_object().contains("resource"));
  EXPECT_EQ(entries[1].at("request").at("method"), "PUT");
  EXPECT_EQ(entries[2].at("request").at("method"), "POST");
  EXPECT_EQ(entries[2].at("resource").at("gender"), "female");

  Response h1 = call("GET", "/fhir/Patient/" + id + "/_history?_count=1");
  EXPECT_EQ(body(h1).at("entry").as_array().size(), 1u);
  EXPECT_FALSE(body(h1).as_object().contains("total"));  // not known from a truncated page
  EXPECT_EQ(call("GET", "/fhir/_history?_since=2000-01-01T00:00:00Z").status, 200);
  EXPECT_EQ(call("GET", "/fhir/Patient/_history?_since=yesterday").status, 400);
}

TEST_F(ApiTest, UpdateCreatesWithTheClientIdAndChecksIt) {
  Response u = call("PUT", "/fhir/Patient/client-1", R"({"resourceType":"Patient","id":"client-1"})");
  EXPECT_EQ(u.status, 201);
  EXPECT_NE(u.get("Location"), nullptr);
  EXPECT_EQ(call("PUT", "/fhir/Patient/client-2", R"({"resourceType":"Patient","id":"client-1"})").status, 400);
  EXPECT_EQ(call("PUT", "/fhir/Patient/client-2", R"({"resourceType":"Patient"})").status, 400);
  if_match = "banana";
  EXPECT_EQ(call("PUT", "/fhir/Patient/client-1", R"({"resourceType":"Patient","id":"client-1"})").status, 400);
}

TEST_F(ApiTest, PreferReturn) {
  prefer = "return=minimal";
  Response r = call("POST", "/fhir/Patient", kPatient);
  EXPECT_EQ(r.status, 201);
  EXPECT_TRUE(r.body.empty());
  EXPECT_NE(r.get("Location"), nullptr);
  prefer = "return=OperationOutcome";
  r = call("POST", "/fhir/Patient", kPatient);
  EXPECT_EQ(body(r).at("resourceType"), "OperationOutcome");
}

TEST_F(ApiTest, BadInputIsA4xxOutcomeAndChangesNothing) {
  const std::string id = create_patient();
  const size_t before = vault.repo.version_count();
  struct Case {
    std::string method, target, body, content_type;
    int status;
  } cases[] = {
      {"POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",", "application/fhir+json", 400},
      {"POST", "/fhir/Patient", kPatient, "text/plain", 415},
      {"POST", "/fhir/Patient", kPatient, "application/xml", 415},
      {"POST", "/fhir/Patient", "", "application/fhir+json", 400},
      {"POST", "/fhir/Observation", kPatient, "application/fhir+json", 400},  // type mismatch
      {"POST", "/fhir/Patient", R"({"resourceType":"Patient","birthDate":"02/04/1980"})", "application/json", 422},
      {"POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"\xff\"}]}", "application/json", 400},
      {"POST", "/fhir/Patient", std::string(200, '[') + std::string(200, ']'), "application/json", 400},
      {"POST", "/fhir/Patients", kPatient, "application/json", 404},
      {"POST", "/fhir/Bundle", R"({"resourceType":"Bundle","type":"collection"})", "application/json", 404},
      {"GET", "/fhir/Patient/..%2Fetc%2Fpasswd", "", "", 400},
      {"GET", "/fhir/Patient/x'%3B%20DROP%20TABLE%20r%3B--", "", "", 400},
      {"GET", "/fhir/Patient/%zz", "", "", 400},
      {"GET", "/fhir/Patient?name=%FF", "", "", 400},
      {"DELETE", "/fhir/Patient/a%20b", "", "", 400},
      {"PATCH", "/fhir/Patient/" + id, kPatient, "application/json", 405},
      {"GET", "/fhir/Patient/does-not-exist", "", "", 404},
      {"DELETE", "/fhir/Patient/does-not-exist", "", "", 404},
  };
  for (const auto& c : cases) {
    Response r = call(c.method, c.target, c.body, "mvt_doctor", c.content_type);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << r.body;
    EXPECT_EQ(body(r).at("resourceType"), "OperationOutcome") << c.target;
  }
  EXPECT_EQ(vault.repo.version_count(), before);
  Response v = call("POST", "/fhir/Patient", R"({"resourceType":"Patient","birthDate":"02/04/1980"})");
  EXPECT_EQ(body(v).at("issue").at(0).at("expression").at(0), "Patient.birthDate");
  Response m = call("PATCH", "/fhir/Patient/" + id, kPatient);
  EXPECT_EQ(*m.get("Allow"), "GET, PUT, DELETE");
  EXPECT_EQ(issue_code(m), "not-supported");
  prefer = "handling=strict";
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "?_elements=name").status, 400);
  prefer.clear();
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "?_elements=name").status, 200);
}

TEST_F(ApiTest, RequestContextCarriesPurposeAddressAndRequestId) {
  purpose = "ETREAT";
  call("GET", "/fhir/Patient/nope");
  EXPECT_EQ(vault.repo.last_ctx.purpose, "ETREAT");
  EXPECT_EQ(vault.repo.last_ctx.address, "10.1.2.3");
  EXPECT_EQ(vault.repo.last_ctx.subject.user, "drhouse");
  EXPECT_EQ(vault.repo.last_ctx.request_id, "req" + std::to_string(n_));
  purpose.clear();
  call("GET", "/fhir/Patient/nope");
  EXPECT_EQ(vault.repo.last_ctx.purpose, "TREAT");
  purpose = "treat; drop";
  EXPECT_EQ(call("GET", "/fhir/Patient/nope").status, 400);
}

TEST_F(ApiTest, ServerErrorsHideDetailsButKeepTheStatus) {
  vault.repo.fail_with = make_error(Errc::unavailable, "audit log on /var/x is full");
  Response r = call("GET", "/fhir/Patient/p1");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.find("/var/x"), std::string::npos);
  vault.repo.fail_with = make_error(Errc::forbidden, "access denied");
  EXPECT_EQ(call("GET", "/fhir/Patient/p1").status, 403);
}

TEST_F(ApiTest, MetricsFromLoopbackOrForItAdmin) {
  call("GET", "/healthz", "", "");
  address = "127.0.0.1";
  Response r = call("GET", "/metrics", "", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.get("Content-Type")->find("text/plain"), std::string::npos);
  address = "192.168.1.9";
  EXPECT_EQ(call("GET", "/metrics", "", "").status, 401);
  EXPECT_EQ(call("GET", "/metrics", "", "mvt_doctor").status, 403);
  EXPECT_EQ(call("GET", "/metrics", "", "mvt_admin").status, 200);
}

TEST_F(ApiTest, EverythingReturnsThePatientCompartment) {
  const std::string id = create_patient();
  Response o = call("POST", "/fhir/Observation",
                    R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/)" +
                        id + R"("}})");
  ASSERT_EQ(o.status, 201) << o.body;
  Response e = call("GET", "/fhir/Patient/" + id + "/$everything");
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(body(e).at("total"), 2);
  EXPECT_EQ(call("GET", "/fhir/Patient/nobody/$everything").status, 404);
}

// ---- search

class SearchTest : public ApiTest {
 protected:
  void SetUp() override {
    for (const char* p : {
             R"({"resourceType":"Patient","name":[{"family":"Durand","given":["Alice"]}],"birthDate":"1980-04-02","gender":"female"})",
             R"({"resourceType":"Patient","name":[{"family":"DURAND","given":["Bob"]}],"birthDate":"1990-07-01","gender":"male"})",
             R"({"resourceType":"Patient","name":[{"family":"Martin","given":["Carl"]}],"birthDate":"1985-01-01","gender":"male"})",
         }) {
      Response r = call("POST", "/fhir/Patient", p);
      ASSERT_EQ(r.status, 201) << r.body;
      ids.push_back(std::string(body(r).at("id").as_string()));
    }
  }
  static std::string link(const json::value& b, std::string_view rel) {
    if (!b.as_object().contains("link")) return "";
    for (const auto& l : b.at("link").as_array())
      if (l.at("relation").as_string() == rel) return std::string(l.at("url").as_string());
    return "";
  }
  // The target of an absolute link of this server.
  static std::string target_of(const std::string& url) {
    const std::string base = "https://ehr.test:8443";
    EXPECT_TRUE(url.starts_with(base)) << url;
    return url.substr(base.size());
  }
  std::vector<std::string> ids;
};

TEST_F(SearchTest, ByNameWithPagingLinks) {
  Response r = call("GET", "/fhir/Patient?family=durand&_count=1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.route, "/fhir/{type}");
  json::value b = body(r);
  EXPECT_EQ(b.at("type"), "searchset");
  EXPECT_FALSE(b.as_object().contains("total"));  // not counted past the page without _total=accurate
  EXPECT_FALSE(vault.repo.last_search->accurate_total);
  ASSERT_EQ(b.at("entry").as_array().size(), 1u);
  EXPECT_EQ(b.at("entry").at(0).at("search").at("mode"), "match");
  const std::string first_id(b.at("entry").at(0).at("resource").at("id").as_string());
  EXPECT_EQ(b.at("entry").at(0).at("fullUrl").as_string(), "https://ehr.test:8443/fhir/Patient/" + first_id);
  EXPECT_EQ(link(b, "previous"), "");
  const std::string next = link(b, "next");
  ASSERT_NE(next, "");
  EXPECT_NE(next.find("_offset=1"), std::string::npos);
  EXPECT_NE(next.find("family=durand"), std::string::npos);

  Response r2 = call("GET", target_of(next));
  ASSERT_EQ(r2.status, 200) << r2.body;
  json::value b2 = body(r2);
  ASSERT_EQ(b2.at("entry").as_array().size(), 1u);
  EXPECT_NE(b2.at("entry").at(0).at("resource").at("id").as_string(), first_id);
  EXPECT_EQ(b2.at("total"), 2);  // the matches ended within this page: exact for free
  EXPECT_EQ(link(b2, "next"), "");
  EXPECT_NE(link(b2, "previous"), "");
}

TEST_F(SearchTest, PagingLinksKeepEncodedCharacters) {
  Response r = call("GET", "/fhir/Patient?birthdate=ge1970-01-01T00:00:00%2B01:00&name=a%26b%20c&_count=1");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value b = body(r);
  EXPECT_EQ(b.at("total"), 0);
  r = call("GET", "/fhir/Patient?birthdate=ge1970-01-01T00:00:00%2B01:00&_count=1");
  b = body(r);
  EXPECT_FALSE(b.as_object().contains("total"));
  const std::string next = link(b, "next");
  EXPECT_NE(next.find("birthdate=ge1970-01-01T00:00:00%2B01:00"), std::string::npos) << next;
  Response r2 = call("GET", target_of(next));
  ASSERT_EQ(r2.status, 200);
  EXPECT_EQ(body(r2).at("entry").as_array().size(), 1u);
  EXPECT_NE(link(body(r2), "next").find("_offset=2"), std::string::npos);
}

TEST_F(SearchTest, SummaryCountSortIdAndDates) {
  json::value b = body(call("GET", "/fhir/Patient?family=durand&_summary=count"));
  EXPECT_EQ(b.at("total"), 2);
  EXPECT_FALSE(b.as_object().contains("entry"));
  EXPECT_EQ(vault.repo.last_search->count, 0u);

  b = body(call("GET", "/fhir/Patient?_sort=-_lastUpdated"));
  EXPECT_EQ(b.at("total"), 3);
  EXPECT_EQ(b.at("entry").at(0).at("resource").at("id").as_string(), ids[2]);
  EXPECT_TRUE(vault.repo.last_search->newest_first);

  b = body(call("GET", "/fhir/Patient?_id=" + ids[1]));
  EXPECT_EQ(b.at("total"), 1);
  b = body(call("GET", "/fhir/Patient?birthdate=ge1985-01-01&gender=male"));
  EXPECT_EQ(b.at("total"), 2);
  b = body(call("GET", "/fhir/Patient?birthdate=lt1985"));
  EXPECT_EQ(b.at("total"), 1);
  EXPECT_EQ(call("GET", "/fhir/Patient?birthdate=yesterday").status, 400);
  EXPECT_EQ(call("GET", "/fhir/Patients?name=x").status, 404);
}

TEST_F(SearchTest, TotalModes) {
  // accurate: the exact total with a partial page and its next link.
  json::value b = body(call("GET", "/fhir/Patient?family=durand&_count=1&_total=accurate"));
  EXPECT_EQ(b.at("total"), 2);
  EXPECT_EQ(b.at("entry").as_array().size(), 1u);
  EXPECT_TRUE(vault.repo.last_search->accurate_total);
  const std::string next = link(b, "next");
  EXPECT_NE(next.find("_total=accurate"), std::string::npos) << next;  // the next page counts too
  EXPECT_EQ(body(call("GET", target_of(next))).at("total"), 2);
  // none: no total even when it is known, paging unchanged.
  b = body(call("GET", "/fhir/Patient?family=durand&_total=none"));
  EXPECT_FALSE(b.as_object().contains("total"));
  EXPECT_EQ(b.at("entry").as_array().size(), 2u);
  EXPECT_FALSE(vault.repo.last_search->accurate_total);
  b = body(call("GET", "/fhir/Patient?_count=2&_total=none"));
  EXPECT_FALSE(b.as_object().contains("total"));
  EXPECT_NE(link(b, "next"), "");
  // estimate: as the default (a total only when it comes free).
  b = body(call("GET", "/fhir/Patient?_count=2&_total=estimate"));
  EXPECT_FALSE(b.as_object().contains("total"));
  EXPECT_FALSE(vault.repo.last_search->accurate_total);
  EXPECT_EQ(body(call("GET", "/fhir/Patient?_count=3&_total=estimate")).at("total"), 3);
  // _summary=count is a total whatever _total says.
  EXPECT_EQ(body(call("GET", "/fhir/Patient?_summary=count&_total=none")).at("total"), 3);
  // A bad value is a 400 OperationOutcome naming the parameter, strict or not.
  for (const char* p : {"", "handling=strict"}) {
    prefer = p;
    for (const char* v : {"exact", "", "Accurate"}) {
      Response r = call("GET", std::string("/fhir/Patient?family=durand&_total=") + v);
      EXPECT_EQ(r.status, 400) << v;
      json::value oo = body(r);
      EXPECT_EQ(oo.at("resourceType"), "OperationOutcome");
      EXPECT_EQ(oo.at("issue").at(0).at("diagnostics"),
                "search parameter \"_total\": expected none, estimate or accurate");
    }
  }
}

TEST_F(SearchTest, UnknownParametersStrictAndLenient) {
  Response r = call("GET", "/fhir/Patient?family=martin&shoe-size=44");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value b = body(r);
  EXPECT_EQ(b.at("total"), 1);
  const auto& entries = b.at("entry").as_array();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].at("search").at("mode"), "outcome");
  EXPECT_EQ(entries[1].at("resource").at("resourceType"), "OperationOutcome");
  EXPECT_EQ(link(b, "self").find("shoe-size"), std::string::npos);

  prefer = "handling=strict";
  r = call("GET", "/fhir/Patient?family=martin&shoe-size=44");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r).at("resourceType"), "OperationOutcome");
}

TEST_F(SearchTest, PostSearchWithAFormBody) {
  Response r = call("POST", "/fhir/Patient/_search", "family=Durand&given=bob", "mvt_doctor",
                    "application/x-www-form-urlencoded");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r).at("total"), 1);
  EXPECT_EQ(call("POST", "/fhir/Patient/_search", "family=Durand", "mvt_doctor", "application/json").status, 415);
  EXPECT_EQ(call("POST", "/fhir/Patient/_search", "family=%ZZ", "mvt_doctor", "application/x-www-form-urlencoded").status,
            400);
}

// ---- transaction and batch

std::string transaction_bundle(std::string_view type, std::string_view second_birth_date = "1990-01-01") {
  return std::string(R"({"resourceType":"Bundle","type":")") + std::string(type) + R"(","entry":[
    {"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111",
     "resource":{"resourceType":"Patient","name":[{"family":"Martin"}],"birthDate":"1970-01-01"},
     "request":{"method":"POST","url":"Patient"}},
    {"fullUrl":"urn:uuid:22222222-2222-4222-8222-222222222222",
     "resource":{"resourceType":"Observation","status":"final","code":{"text":"weight"},
                 "subject":{"reference":"urn:uuid:11111111-1111-4111-8111-111111111111"}},
     "request":{"method":"POST","url":"Observation"}},
    {"resource":{"resourceType":"Patient","id":"fixed-id","birthDate":")" + std::string(second_birth_date) + R"("},
     "request":{"method":"PUT","url":"Patient/fixed-id"}}
  ]})";
}

TEST_F(ApiTest, TransactionRewritesUrnReferencesAndCommitsAll) {
  Response r = call("POST", "/fhir", transaction_bundle("transaction"));
  ASSERT_EQ(r.status, 200) << r.body;
  json::value b = body(r);
  EXPECT_EQ(b.at("type"), "transaction-response");
  const auto& entries = b.at("entry").as_array();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].at("response").at("status"), "201 Created");
  EXPECT_EQ(entries[2].at("response").at("status"), "201 Created");
  const std::string patient_loc(entries[0].at("response").at("location").as_string());  // Patient/<id>/_history/1
  const std::string patient_ref = patient_loc.substr(0, patient_loc.find("/_history"));
  const std::string obs_loc(entries[1].at("response").at("location").as_string());
  Response obs = call("GET", "/fhir/" + obs_loc.substr(0, obs_loc.find("/_history")));
  ASSERT_EQ(obs.status, 200);
  EXPECT_EQ(body(obs).at("subject").at("reference").as_string(), patient_ref);
  EXPECT_EQ(vault.repo.version_count(), 3u);
}

TEST_F(ApiTest, FailedTransactionChangesNothing) {
  Response r = call("POST", "/fhir", transaction_bundle("transaction", "not-a-date"));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(body(r).at("issue").at(0).at("expression").at(0), "Bundle.entry[2].resource.birthDate");
  EXPECT_EQ(vault.repo.version_count(), 0u);

  // A conflict found inside the repository rolls back the whole transaction.
  ASSERT_EQ(call("PUT", "/fhir/Patient/fixed-id", R"({"resourceType":"Patient","id":"fixed-id"})").status, 201);
  std::string b = transaction_bundle("transaction");
  b.replace(b.find(R"("url":"Patient/fixed-id")"), 24, R"("url":"Patient/fixed-id","ifMatch":"W/\"7\"")");
  r = call("POST", "/fhir", b);
  EXPECT_EQ(r.status, 412) << r.body;
  EXPECT_EQ(vault.repo.version_count(), 1u);
}

TEST_F(ApiTest, MalformedTransactionsAreRefused) {
  const std::string dangling = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:nowhere"}},
     "request":{"method":"POST","url":"Observation"}}]})";
  const std::string self_nested = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:b","resource":{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:b"}]},
     "request":{"method":"POST","url":"Bundle"}}]})";
  const std::string dup_full_url = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:a","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
    {"fullUrl":"urn:uuid:a","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]})";
  const std::string twice = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"p"},"request":{"method":"PUT","url":"Patient/p"}},
    {"request":{"method":"DELETE","url":"Patient/p"}}]})";
  const std::string conditional = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=x"}}]})";
  const std::string absolute = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"DELETE","url":"https://evil.example/fhir/Patient/p"}}]})";
  const std::string not_bundle = R"({"resourceType":"Patient"})";
  const std::string wrong_type = R"({"resourceType":"Bundle","type":"collection"})";
  for (const auto& b : {dangling, self_nested, dup_full_url, twice, conditional, absolute, not_bundle, wrong_type}) {
    Response r = call("POST", "/fhir", b);
    EXPECT_EQ(r.status, 400) << b << "\n" << r.body;
    EXPECT_EQ(body(r).at("resourceType"), "OperationOutcome");
  }
  EXPECT_EQ(vault.repo.version_count(), 0u);
  EXPECT_EQ(call("POST", "/fhir", transaction_bundle("transaction"), "mvt_doctor", "text/plain").status, 415);
}

TEST_F(ApiTest, BatchAnswersEachEntry) {
  const std::string id = create_patient();
  const std::string b = R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient","name":[{"family":"Roux"}]},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Patient","birthDate":"soon"},"request":{"method":"POST","url":"Patient"}},
    {"request":{"method":"GET","url":"Patient/)" + id + R"("}},
    {"request":{"method":"GET","url":"Patient/missing"}},
    {"request":{"method":"POST","url":"Patient"}},
    {"request":"nonsense"}
  ]})";
  Response r = call("POST", "/fhir", b);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = body(r);
  EXPECT_EQ(v.at("type"), "batch-response");
  const auto& e = v.at("entry").as_array();
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[0].at("response").at("status"), "201 Created");
  EXPECT_EQ(e[1].at("response").at("status"), "422 Unprocessable Content");
  EXPECT_EQ(e[1].at("response").at("outcome").at("resourceType"), "OperationOutcome");
  EXPECT_EQ(e[2].at("response").at("status"), "200 OK");
  EXPECT_EQ(e[2].at("resource").at("id").as_string(), id);
  EXPECT_EQ(e[3].at("response").at("status"), "404 Not Found");
  EXPECT_EQ(e[4].at("response").at("status"), "400 Bad Request");
  EXPECT_EQ(e[5].at("response").at("status"), "400 Bad Request");
  EXPECT_EQ(vault.repo.version_count(), 2u);
}

}  // namespace
}  // namespace medvault::http
