// The staff web app's files (web/ in the source tree), embedded in the binary
// at build time by cmake/EmbedFiles.cmake: the server needs no files on disk
// and no other origin, and what it serves is what was built and tested.
#pragma once

#include <span>
#include <string_view>

namespace medvault::http {

struct StaticFile {
  std::string_view path;          // "/static/NAME"
  std::string_view content_type;  // with charset for text
  std::string_view body;          // the file's bytes
};

// The file served at a request path: "/" is web/index.html, "/static/NAME"
// is web/NAME. nullptr for anything else. The pointee lives as long as the
// program.
const StaticFile* find_static(std::string_view path);

// Every embedded file, sorted by path (defined by the generated source).
std::span<const StaticFile> static_files();

}  // namespace medvault::http
