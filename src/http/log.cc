#include "http/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <chrono>
#include <ctime>

namespace medvault::http::log {
namespace {

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto lg = std::make_shared<spdlog::logger>("medvault.http", sink);
    lg->set_pattern("%v");
    lg->flush_on(spdlog::level::info);
    return lg;
  }();
  return *l;
}

std::string now_utc() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

}  // namespace

void event(Level level, boost::json::object fields) {
  boost::json::object line;
  line["ts"] = now_utc();
  line["level"] = level == Level::info ? "info" : level == Level::warn ? "warn" : "error";
  for (auto& kv : fields) line[kv.key()] = std::move(kv.value());
  logger().info(boost::json::serialize(line));
}

void raw(std::string_view line) { logger().info(line); }

}  // namespace medvault::http::log
