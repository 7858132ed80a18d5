#include "http/outcome.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace medvault::http {
namespace {

namespace json = boost::json;

TEST(Outcome, EveryErrcMapsToItsCatalogueStatus) {
  const std::pair<Errc, int> expected[] = {
      {Errc::invalid, 400},      {Errc::unprocessable, 422},       {Errc::not_found, 404},
      {Errc::gone, 410},         {Errc::conflict, 409},            {Errc::precondition_failed, 412},
      {Errc::too_large, 413},    {Errc::unsupported_media, 415},   {Errc::unauthenticated, 401},
      {Errc::forbidden, 403},    {Errc::throttled, 429},           {Errc::integrity, 500},  {Errc::io, 500},
      {Errc::unavailable, 503},  {Errc::internal, 500},
  };
  for (auto [code, status] : expected) {
    Response r = error_response(make_error(code, "m"), "rid");
    EXPECT_EQ(r.status, status) << error_info(code).name;
    EXPECT_EQ(*r.get("Content-Type"), kFhirJson);
    json::value v = json::parse(r.body);
    EXPECT_EQ(v.at("resourceType"), "OperationOutcome");
    EXPECT_EQ(v.at("issue").at(0).at("code").as_string(), error_info(code).fhir_issue_code);
  }
}

TEST(Outcome, ClientErrorsCarryMessageAndExpression) {
  Response r = error_response(make_error(Errc::unprocessable, "birthDate is not a date", "Patient.birthDate"), "rid");
  json::value v = json::parse(r.body);
  const auto& issue = v.at("issue").at(0);
  EXPECT_EQ(issue.at("severity"), "error");
  EXPECT_EQ(issue.at("code"), "structure");
  EXPECT_EQ(issue.at("diagnostics"), "birthDate is not a date");
  EXPECT_EQ(issue.at("expression").at(0), "Patient.birthDate");
}

TEST(Outcome, ServerErrorsHideTheInternalMessage) {
  Response r = error_response(make_error(Errc::integrity, "Patient/p1 version 3 failed to decrypt"), "abc123");
  EXPECT_EQ(r.body.find("Patient/p1"), std::string::npos);
  json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("issue").at(0).at("severity"), "fatal");
  EXPECT_NE(std::string(v.at("issue").at(0).at("diagnostics").as_string()).find("abc123"), std::string::npos);
  EXPECT_EQ(v.at("issue").at(0).as_object().count("expression"), 0u);
}

TEST(Outcome, UnauthenticatedCarriesWwwAuthenticate) {
  Response r = error_response(make_error(Errc::unauthenticated, "no"), "rid");
  ASSERT_NE(r.get("WWW-Authenticate"), nullptr);
  EXPECT_TRUE(r.get("WWW-Authenticate")->starts_with("Bearer"));
  EXPECT_EQ(error_response(make_error(Errc::forbidden, "no"), "rid").get("WWW-Authenticate"), nullptr);
}

TEST(Outcome, JsonQuoteEscapes) {
  EXPECT_EQ(json_quote("a\"b\\c\n"), R"("a\"b\\c\n")");
}

}  // namespace
}  // namespace medvault::http
