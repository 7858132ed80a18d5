#include "http/static_files.h"

#include <algorithm>

namespace medvault::http {

const StaticFile* find_static(std::string_view path) {
  if (path == "/") path = "/static/index.html";
  if (!path.starts_with("/static/")) return nullptr;
  const auto files = static_files();
  auto it = std::lower_bound(files.begin(), files.end(), path,
                             [](const StaticFile& f, std::string_view p) { return f.path < p; });
  return it != files.end() && it->path == path ? &*it : nullptr;
}

}  // namespace medvault::http
