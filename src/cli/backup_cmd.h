// `medvault backup ...` and `medvault kit create` (src/backup).
#pragma once

#include <CLI/CLI.hpp>

namespace medvault::cli {

// Adds the commands to `app`; a failing command sets `rc` to its exit code.
void add_backup_commands(CLI::App& app, int& rc);

}  // namespace medvault::cli
