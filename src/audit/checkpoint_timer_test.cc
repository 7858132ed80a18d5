#include "audit/checkpoint_timer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <vector>

#include "audit/checkpoint.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace medvault::audit {
namespace {

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Log> log;
  std::string vkey;

  Fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("mv-cptimer-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(dir);
    store = std::move(store::open_sqlite(dir / "a.db")).value();
    LogOptions opt;
    opt.origin = "medvault.local/timer-test";
    opt.checkpoint_every = 0;  // only the timer signs
    log = std::move(Log::open(*store,
                              LogKeys{crypto::SecretKey::random(), crypto::SecretKey::random(),
                                      crypto::SecretKey::random()},
                              opt))
              .value();
    vkey = log->verifier_key();
  }
  ~Fixture() {
    log.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  // n entries in one transaction: the timer sees none or all of them.
  void append(int n) {
    std::vector<Entry> entries(n);
    for (int i = 0; i < n; ++i) {
      entries[i].time_ms = 1000 + i;
      entries[i].user = "u";
      entries[i].action = "read";
      entries[i].outcome = "0";
    }
    auto txn = store->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(log->add(**txn, std::move(entries)).ok());
    const bool ok = (*txn)->commit().ok();
    log->after_commit(ok);
    ASSERT_TRUE(ok);
  }
};

TEST(CheckpointTimer, SignsOnlyWhenTheLogGrewAndHandsEachNoteToTheSink) {
  Fixture f;
  std::mutex mu;
  std::vector<std::string> notes;
  {
    CheckpointTimer timer(*f.log, std::chrono::milliseconds(20), [&](const std::string& note) {
      std::lock_guard<std::mutex> lock(mu);
      notes.push_back(note);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_TRUE(notes.empty()) << "an empty log that never grew needs no checkpoint";
    }
    f.append(3);
    for (int i = 0; i < 200 && timer.signed_count() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(timer.signed_count(), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    EXPECT_EQ(timer.signed_count(), 1u) << "no new entries, no new checkpoint";
    f.append(2);  // signed by the last tick at destruction at the latest
  }
  ASSERT_EQ(notes.size(), 2u);
  auto first = verify_checkpoint(notes[0], f.vkey, f.log->origin());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->size, 3u);
  auto second = verify_checkpoint(notes[1], f.vkey, f.log->origin());
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->size, 5u);
  auto stored = f.store->audit_checkpoints();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 2u);
}

}  // namespace
}  // namespace medvault::audit
