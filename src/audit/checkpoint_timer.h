// Signs a checkpoint of the audit log every `interval` while the server runs
// (the "every T seconds" half of the checkpoint policy; Log signs every N
// entries by itself), and hands each new note to the witnesses: a file an
// external witness collects, the syslog collector, another party.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "audit/log.h"

namespace medvault::audit {

class CheckpointTimer {
 public:
  // Called with each newly signed note, on the timer's thread.
  using Sink = std::function<void(const std::string& note)>;

  // Starts the thread. Nothing is signed while the log has not grown since
  // the last checkpoint the timer signed.
  CheckpointTimer(Log& log, std::chrono::milliseconds interval, Sink sink);
  // Signs a last checkpoint if the log grew, then stops.
  ~CheckpointTimer();
  CheckpointTimer(const CheckpointTimer&) = delete;
  CheckpointTimer& operator=(const CheckpointTimer&) = delete;

  uint64_t signed_count() const;

 private:
  void tick();
  void run();

  Log& log_;
  const std::chrono::milliseconds interval_;
  Sink sink_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t last_size_ = 0;
  uint64_t signed_ = 0;
  std::thread thread_;
};

}  // namespace medvault::audit
