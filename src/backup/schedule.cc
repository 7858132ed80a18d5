#include "backup/schedule.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/errors.h"

namespace medvault::backup {

void SchedulePolicy::start(int64_t now, std::optional<int64_t> newest_good_ms) {
  started_ms_ = now;
  newest_good_ms_ = newest_good_ms;
  next_run_ms_ = newest_good_ms ? std::max(now, *newest_good_ms + every_ms_) : now;
}

void SchedulePolicy::ran(int64_t now, bool ok, std::optional<int64_t> newest_good_ms) {
  if (newest_good_ms && (!newest_good_ms_ || *newest_good_ms > *newest_good_ms_)) newest_good_ms_ = newest_good_ms;
  next_run_ms_ = now + (ok ? every_ms_ : std::min(every_ms_, kRetryMaxMs));
  if (!rpo_exceeded(now)) last_alert_ms_.reset();  // the episode is over
}

bool SchedulePolicy::rpo_exceeded(int64_t now) const { return now - newest_good_ms() > rpo_ms_; }

bool SchedulePolicy::alert_due(int64_t now) {
  if (!rpo_exceeded(now)) {
    last_alert_ms_.reset();
    return false;
  }
  if (last_alert_ms_ && now - *last_alert_ms_ < kAlertEveryMs) return false;
  last_alert_ms_ = now;
  return true;
}

Result<std::unique_ptr<BackupSchedule>> BackupSchedule::start(vault::Vault& vault, ScheduleOptions options,
                                                              const Clock& clock) {
  if (options.target.empty()) return make_error(Errc::invalid, "scheduled backups need a target (--backup-to)");
  constexpr int64_t kMaxS = 3650LL * 86400;  // ten years: keeps the ms arithmetic far from overflow
  if (options.every_s <= 0 || options.rpo_s <= 0 || options.every_s > kMaxS || options.rpo_s > kMaxS)
    return make_error(Errc::invalid, "--backup-every and --backup-rpo must be positive durations of at most 3650d");
  if (options.keep.daily < 0 || options.keep.weekly < 0 || options.keep.monthly < 0)
    return make_error(Errc::invalid, "--backup-keep-* must not be negative");
  // No recovery kit: say so now, not at the first run.
  if (auto keys = vault.backup_keys(); !keys.ok()) return keys.take_error();
  MV_ASSIGN(auto status, vault.status());
  return std::unique_ptr<BackupSchedule>(new BackupSchedule(vault, std::move(options), clock, status.vault_id));
}

BackupSchedule::BackupSchedule(vault::Vault& vault, ScheduleOptions options, const Clock& clock, std::string vault_id)
    : vault_(vault),
      options_(std::move(options)),
      clock_(clock),
      vault_id_(std::move(vault_id)),
      policy_(options_.every_s * 1000, options_.rpo_s * 1000),
      thread_([this] { run(); }) {}

BackupSchedule::~BackupSchedule() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BackupSchedule::run() {
  // The policy is used by this thread only.
  {
    const int64_t now = clock_.now_ms();
    policy_.start(now, newest_good_backup());
    maybe_alert(now);
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const int64_t wait = policy_.next_run_ms() - clock_.now_ms();
    if (wait > 0) {
      // Woken at least once a minute, so that a change of the wall clock is
      // noticed.
      cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(wait, 60'000)), [this] { return stop_; });
      continue;
    }
    lock.unlock();
    const int64_t started = clock_.now_ms();
    const bool ok = run_once();
    const int64_t now = clock_.now_ms();
    policy_.ran(now, ok, ok ? std::optional<int64_t>(started) : newest_good_backup());
    if (!ok) maybe_alert(now);
    lock.lock();
  }
}

std::optional<int64_t> BackupSchedule::newest_good_backup() {
  // The target's newest manifest that verifies and is this vault's. (The
  // vault's own record names the last manifest, not its time.) A target that
  // cannot be read now tells nothing: the policy keeps what it knew.
  auto target = open_target(options_.target, options_.sftp, false);
  if (!target.ok()) return std::nullopt;
  auto list = list_backups(**target);
  if (!list.ok()) return std::nullopt;
  std::optional<int64_t> newest;
  for (const auto& m : *list)
    if (m.valid && m.vault_id == vault_id_ && (!newest || m.created_ms > *newest)) newest = m.created_ms;
  return newest;
}

bool BackupSchedule::run_once() {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [t0] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  auto failed = [&](const char* stage, const Error& e) {
    const std::string_view name = error_info(e.code).name;
    std::fprintf(stderr, "{\"event\":\"backup-failed\",\"stage\":\"%s\",\"error\":\"%.*s\",\"elapsed_s\":%.2f}\n",
                 stage, static_cast<int>(name.size()), name.data(), elapsed());
    // The message names the target and the problem, never patient data;
    // audit details are encrypted anyway.
    audit("backup-create", std::string("scheduled backup failed (") + stage + "): " + e.message, "4", false);
    return false;
  };
  auto target = open_target(options_.target, options_.sftp, true);
  if (!target.ok()) return failed("target", target.error());
  // create_backup audits the snapshot itself ("backup-create").
  auto created = create_backup(vault_, **target, CreateOptions{});
  if (!created.ok()) return failed("create", created.error());
  auto pruned = prune_backups(vault_, **target, options_.keep);
  audit("backup-prune", (*target)->describe() + (pruned.ok() ? "" : ": " + pruned.error().message),
        pruned.ok() ? "0" : "4", false);
  const std::string_view prune_error = pruned.ok() ? "" : error_info(pruned.error().code).name;
  std::fprintf(stderr,
               "{\"event\":\"backup\",\"seq\":%llu,\"bytes\":%llu,\"new_bytes\":%llu,\"new_stored\":%llu,"
               "\"pruned\":%zu,\"prune_error\":\"%.*s\",\"elapsed_s\":%.2f}\n",
               static_cast<unsigned long long>(created->seq), static_cast<unsigned long long>(created->bytes),
               static_cast<unsigned long long>(created->new_bytes),
               static_cast<unsigned long long>(created->new_stored),
               pruned.ok() ? pruned->removed_manifests.size() : size_t{0}, static_cast<int>(prune_error.size()),
               prune_error.data(), elapsed());
  return true;
}

void BackupSchedule::maybe_alert(int64_t now) {
  if (!policy_.alert_due(now)) return;
  const int64_t age_s = (now - policy_.newest_good_ms()) / 1000;
  std::string detail = policy_.has_backup()
                           ? "newest good backup " + format_instant(policy_.newest_good_ms()) + ", " +
                                 std::to_string(age_s) + " s old"
                           : "no good backup in the " + std::to_string(age_s) + " s since the schedule started";
  detail += "; RPO " + std::to_string(options_.rpo_s) + " s";
  std::fprintf(stderr, "{\"event\":\"backup-rpo-exceeded\",\"age_s\":%lld,\"rpo_s\":%lld}\n",
               static_cast<long long>(age_s), static_cast<long long>(options_.rpo_s));
  audit("backup-rpo-exceeded", detail, "4", true);
}

void BackupSchedule::audit(const char* action, const std::string& detail, const char* outcome, bool flagged) {
  audit::Log* log = vault_.audit_log();
  if (log == nullptr) return;
  audit::Entry e;
  e.time_ms = clock_.now_ms();
  e.user = "system";
  e.role = "system";
  e.action = action;
  e.purpose = "HOPERAT";
  e.address = "cli";
  e.outcome = outcome;
  e.detail = detail;
  e.flagged = flagged;
  if (auto st = log->append(std::move(e)); !st.ok()) {
    const std::string_view name = error_info(st.error().code).name;
    std::fprintf(stderr, "{\"event\":\"backup-audit-failed\",\"error\":\"%.*s\"}\n", static_cast<int>(name.size()),
                 name.data());
  }
}

}  // namespace medvault::backup
