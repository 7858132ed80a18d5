// `medvault backup ...` and `medvault kit create` (src/backup).
#pragma once

#include <CLI/CLI.hpp>

#include "backup/schedule.h"

namespace medvault::cli {

// Adds the commands to `app`; a failing command sets `rc` to its exit code.
void add_backup_commands(CLI::App& app, int& rc);

// The scheduled backups' options of `serve` (--backup-to, --backup-every,
// --backup-keep-*, --backup-rpo, --ssh-key, --known-hosts), parsed into `o`.
void add_schedule_options(CLI::App& serve, backup::ScheduleOptions& o);

}  // namespace medvault::cli
