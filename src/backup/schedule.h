// Scheduled backups run by `medvault serve --backup-to TARGET`: every
// `every`, create a backup then prune by the retention policy, on a thread of
// their own; and the RPO alert: a flagged audit entry "backup-rpo-exceeded"
// when the newest good backup is older than `rpo` (docs/formats/backup.md).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "backup/backup.h"
#include "backup/target.h"
#include "common/clock.h"
#include "common/result.h"
#include "vault/vault.h"

namespace medvault::backup {

struct ScheduleOptions {
  std::string target;  // a directory or sftp://user@host[:port]/path
  SftpOptions sftp;
  int64_t every_s = 24 * 3600;
  int64_t rpo_s = 26 * 3600;
  Retention keep{7, 4, 12};
};

// The schedule's decisions, apart from threads and I/O, so that they can be
// tested with any clock. Times are ms since the epoch.
//  - The first run is due `every` after the newest good backup (at once if
//    there is none): restarting the server does not add backups.
//  - After a good run the next is due `every` later; after a failed one,
//    min(every, 1 h) later (a daily schedule retries hourly).
//  - The RPO is exceeded when the newest good backup is older than `rpo`; a
//    vault with no backup counts from the start of the schedule.
//  - alert_due() answers true at most once an hour while the RPO stays
//    exceeded; a good run ends the episode, so the next one alerts at once.
class SchedulePolicy {
 public:
  static constexpr int64_t kRetryMaxMs = 3600 * 1000;
  static constexpr int64_t kAlertEveryMs = 3600 * 1000;

  SchedulePolicy(int64_t every_ms, int64_t rpo_ms) : every_ms_(every_ms), rpo_ms_(rpo_ms) {}

  void start(int64_t now, std::optional<int64_t> newest_good_ms);
  // After a run; `newest_good_ms` is the newest good backup known now.
  void ran(int64_t now, bool ok, std::optional<int64_t> newest_good_ms);
  int64_t next_run_ms() const { return next_run_ms_; }
  bool rpo_exceeded(int64_t now) const;
  // Whether to append an alert now; if so, records that it was appended.
  bool alert_due(int64_t now);
  // The newest good backup, or the start of the schedule when none.
  int64_t newest_good_ms() const { return newest_good_ms_.value_or(started_ms_); }
  bool has_backup() const { return newest_good_ms_.has_value(); }

 private:
  int64_t every_ms_, rpo_ms_;
  int64_t started_ms_ = 0, next_run_ms_ = 0;
  std::optional<int64_t> newest_good_ms_, last_alert_ms_;
};

// Runs the schedule on its own thread until destroyed. A failed run never
// stops the server: it is logged (one JSON line on stderr: no paths, no
// patient data), audited ("backup-create", outcome 4), and retried.
class BackupSchedule {
 public:
  // Errc::invalid on bad options or a vault that cannot be backed up (no
  // recovery kit: the message names the command that fixes it). The target
  // itself is first reached by the thread, so a target that is down does
  // not keep the server from starting.
  static Result<std::unique_ptr<BackupSchedule>> start(vault::Vault& vault, ScheduleOptions options,
                                                       const Clock& clock = SystemClock::instance());
  // Waits for a run in progress to end, then stops.
  ~BackupSchedule();
  BackupSchedule(const BackupSchedule&) = delete;
  BackupSchedule& operator=(const BackupSchedule&) = delete;

 private:
  BackupSchedule(vault::Vault& vault, ScheduleOptions options, const Clock& clock, std::string vault_id);
  void run();
  bool run_once();  // create then prune; true if the backup was written
  std::optional<int64_t> newest_good_backup();
  void audit(const char* action, const std::string& detail, const char* outcome, bool flagged);
  void maybe_alert(int64_t now);

  vault::Vault& vault_;
  const ScheduleOptions options_;
  const Clock& clock_;
  const std::string vault_id_;
  SchedulePolicy policy_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: started when everything else is ready
};

}  // namespace medvault::backup
