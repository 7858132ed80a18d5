#include "http/log.h"

#include <unistd.h>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <mutex>

namespace medvault::http::log {
namespace {

// Lines collected and written to stderr in one write(2) at each flush, or
// once 64 KiB wait: the request log costs no system call per request.
// spdlog flushes it every second; every event but a request's is flushed at
// once (after the lines before it: the order is kept). A process killed
// without warning loses at most the last second of request lines.
class BufferedStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ~BufferedStderrSink() override { flush_(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    buf_.append(msg.payload.data(), msg.payload.size());
    buf_ += '\n';
    if (buf_.size() >= 64 * 1024) flush_();
  }
  void flush_() override {
    size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(STDERR_FILENO, buf_.data() + done, buf_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nowhere to write: the lines are dropped, never the server
      done += static_cast<size_t>(n);
    }
    buf_.clear();
  }

 private:
  std::string buf_;
};

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = std::make_shared<spdlog::logger>("medvault.http", std::make_shared<BufferedStderrSink>());
    lg->flush_on(spdlog::level::warn);
    spdlog::register_logger(lg);
    spdlog::flush_every(std::chrono::seconds(1));
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


std::string line(Level level, boost::json::object fields) {
  boost::json::object line;
  line["ts"] = now_utc();
  line["level"] = level == Level::info ? "info" : level == Level::warn ? "warn" : "error";
  for (auto& kv : fields) line[kv.key()] = std::move(kv.value());
  return boost::json::serialize(line);
}

void write(Level level, const std::string& text) {
  auto& lg = logger();
  lg.log(level == Level::info ? spdlog::level::info : level == Level::warn ? spdlog::level::warn : spdlog::level::err,
         text);
}

}  // namespace

void event(Level level, boost::json::object fields) {
  write(level, line(level, std::move(fields)));
  logger().flush();
}

void request(boost::json::object fields) { write(Level::info, line(Level::info, std::move(fields))); }

void raw(std::string_view text) {
  logger().info(text);
  logger().flush();
}

void flush() { logger().flush(); }

}  // namespace medvault::http::log
