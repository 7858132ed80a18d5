// Small file helpers with the durability medvault needs.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace medvault {

// Writes `bytes` to `path` atomically: a temporary file in the same
// directory, fsync, rename over `path`, fsync of the directory. A crash leaves
// either the old or the new content, never a mix. `mode` is applied before any
// byte is written (0600 for secrets).
Status write_file_atomic(const std::filesystem::path& path, std::string_view bytes,
                         unsigned mode = 0600);

// Reads a whole file, refusing files larger than `max_size` bytes.
Result<std::string> read_file(const std::filesystem::path& path,
                              size_t max_size = 16 * 1024 * 1024);

}  // namespace medvault
