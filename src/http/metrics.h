// Prometheus metrics of the HTTP server: request counts by method, route
// template and status; a latency histogram by route template; open
// connections. Labels come from fixed sets (route templates, known methods),
// never from request text, so neither patient data nor unbounded label
// cardinality can reach them. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace medvault::http {

class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  void observe(std::string_view method, std::string_view route, int status, double seconds);
  void connection_opened() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  void connection_rejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }

  // The Prometheus text exposition format (version 0.0.4).
  std::string render() const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // GUARDED_BY(mu_)
  std::map<std::string, Histogram> latency_;                                // GUARDED_BY(mu_)
  std::atomic<int64_t> connections_{0};
  std::atomic<uint64_t> rejected_{0};
};

// The method as a metrics label: one of the standard methods, else "other".
std::string_view method_label(std::string_view method);

}  // namespace medvault::http
