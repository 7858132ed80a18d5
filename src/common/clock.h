// Injectable time source, so tests can move time (session expiry, grants,
// checkpoints) without sleeping.
#pragma once

#include <chrono>
#include <string>
#include <cstdint>

namespace medvault {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static const SystemClock& instance() {
    static const SystemClock c;
    return c;
  }
};

// FHIR instant with millisecond precision, e.g. 2026-11-29T06:28:12.123Z.
std::string format_instant(int64_t ms_since_epoch);

}  // namespace medvault
