// Group fsync: callers that need a file on disk share one sync. Internal to
// the SQLite engine (the WAL, and the audit log's segment files).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

#include "common/result.h"

namespace medvault::store {

// A caller takes a ticket once its bytes are written, then waits until a
// sync that started after its ticket was issued has finished; one waiting
// thread runs the sync for everyone. Thread-safe.
class GroupSync {
 public:
  explicit GroupSync(std::function<Status()> sync) : sync_(std::move(sync)) {}

  uint64_t ticket() { return issued_.fetch_add(1) + 1; }

  Status wait(uint64_t ticket) {
    std::unique_lock<std::mutex> lk(mu_);
    while (synced_ < ticket) {
      if (syncing_) {
        cv_.wait(lk);
        continue;
      }
      syncing_ = true;
      const uint64_t upto = issued_.load();
      lk.unlock();
      Status st = sync_();
      lk.lock();
      syncing_ = false;
      if (st.ok()) synced_ = std::max(synced_, upto);
      cv_.notify_all();
      if (!st.ok()) return st;
    }
    return ok_status();
  }

  Status sync_now() { return wait(ticket()); }

 private:
  const std::function<Status()> sync_;
  std::atomic<uint64_t> issued_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t synced_ = 0;  // guarded by mu_
  bool syncing_ = false;  // guarded by mu_
};

}  // namespace medvault::store
