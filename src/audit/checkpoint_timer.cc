#include "audit/checkpoint_timer.h"

#include <cstdio>

#include "common/errors.h"

namespace medvault::audit {

CheckpointTimer::CheckpointTimer(Log& log, std::chrono::milliseconds interval, Sink sink)
    : log_(log), interval_(interval), sink_(std::move(sink)), thread_([this] { run(); }) {}

CheckpointTimer::~CheckpointTimer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  tick();
}

uint64_t CheckpointTimer::signed_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return signed_;
}

void CheckpointTimer::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    tick();
    lock.lock();
  }
}

void CheckpointTimer::tick() {
  // Entries appended while signing make the next tick sign again: harmless.
  const uint64_t size = log_.size();
  if (size == last_size_) return;
  auto note = log_.checkpoint();
  if (!note.ok()) {
    // The log refuses appends too when it cannot be written; say it once per
    // tick, without any entry content.
    const std::string_view name = error_info(note.error().code).name;
    std::fprintf(stderr, "{\"event\":\"audit-checkpoint-failed\",\"error\":\"%.*s\"}\n",
                 static_cast<int>(name.size()), name.data());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_size_ = size;
    ++signed_;
  }
  if (sink_) sink_(*note);
}

}  // namespace medvault::audit
