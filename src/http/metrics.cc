#include "http/metrics.h"

#include <fmt/format.h>

namespace medvault::http {

std::string_view method_label(std::string_view m) {
  for (std::string_view known : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
    if (m == known) return known;
  return "other";
}

void Metrics::observe(std::string_view method, std::string_view route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(method_label(method)), std::string(route), status}];
  Histogram& h = latency_[std::string(route)];
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  if (i < kBuckets.size()) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render() const {
  std::string out;
  out += "# HELP medvault_http_requests_total HTTP requests by method, route template and status.\n";
  out += "# TYPE medvault_http_requests_total counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : requests_) {
    const auto& [method, route, status] = key;
    out += fmt::format("medvault_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
                       method, route, status, n);
  }
  out += "# HELP medvault_http_request_duration_seconds Time from request read to response ready.\n";
  out += "# TYPE medvault_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out += fmt::format("medvault_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                         route, kBuckets[i], cumulative);
    }
    out += fmt::format("medvault_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                       route, h.count);
    out += fmt::format("medvault_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route, h.sum);
    out += fmt::format("medvault_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route, h.count);
  }
  out += "# HELP medvault_http_connections Open client connections.\n";
  out += "# TYPE medvault_http_connections gauge\n";
  out += fmt::format("medvault_http_connections {}\n", connections_.load(std::memory_order_relaxed));
  out += "# HELP medvault_http_connections_rejected_total Connections closed at once because the cap was reached.\n";
  out += "# TYPE medvault_http_connections_rejected_total counter\n";
  out += fmt::format("medvault_http_connections_rejected_total {}\n", rejected_.load(std::memory_order_relaxed));
  return out;
}

}  // namespace medvault::http
