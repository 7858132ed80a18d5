#include "http/metrics.h"

#include <gtest/gtest.h>

namespace medvault::http {
namespace {

TEST(Metrics, CountsAndHistogramInPrometheusText) {
  Metrics m;
  m.observe("GET", "/fhir/{type}/{id}", 200, 0.0007);
  m.observe("GET", "/fhir/{type}/{id}", 200, 0.003);
  m.observe("GET", "/fhir/{type}/{id}", 404, 9.0);
  m.observe("BREW", "unmatched", 405, 0.0001);
  m.connection_opened();
  const std::string text = m.render();
  EXPECT_NE(text.find("# TYPE medvault_http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find(R"(medvault_http_requests_total{method="GET",route="/fhir/{type}/{id}",status="200"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(medvault_http_requests_total{method="GET",route="/fhir/{type}/{id}",status="404"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(method="other",route="unmatched",status="405"} 1)"), std::string::npos);
  // Cumulative buckets: 0.0007 is in le=0.001, both fast ones in le=0.005, all three in +Inf.
  EXPECT_NE(text.find(R"(medvault_http_request_duration_seconds_bucket{route="/fhir/{type}/{id}",le="0.0005"} 0)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(medvault_http_request_duration_seconds_bucket{route="/fhir/{type}/{id}",le="0.001"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(medvault_http_request_duration_seconds_bucket{route="/fhir/{type}/{id}",le="0.005"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(medvault_http_request_duration_seconds_bucket{route="/fhir/{type}/{id}",le="2.5"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(medvault_http_request_duration_seconds_bucket{route="/fhir/{type}/{id}",le="+Inf"} 3)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(medvault_http_request_duration_seconds_count{route="/fhir/{type}/{id}"} 3)"),
            std::string::npos);
  EXPECT_NE(text.find("medvault_http_connections 1\n"), std::string::npos);
}

}  // namespace
}  // namespace medvault::http
