// Fuzzes the SQLite engine's reader of audit segment files (store/
// audit_files.h), which someone with access to the disk can rewrite: the
// input is the body of segment 0 after a valid header. Beyond "no crash",
// it checks what the engine promises about any file: the size it reports is
// the number of entries a scan visits, repair leaves a log that reads whole,
// and an entry appended after it reads back.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "store/audit_files.h"

using namespace medvault::store;
namespace fs = std::filesystem;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

const fs::path& scratch() {
  static const fs::path dir = [] {
    char tmpl[] = "/tmp/mv-auditfuzz-XXXXXX";
    check(::mkdtemp(tmpl) != nullptr);
    return fs::path(tmpl) / "log";
  }();
  return dir;
}

uint64_t scanned(AuditFiles& f) {
  uint64_t n = 0;
  auto st = f.scan(1, UINT64_MAX, [&](const AuditRowView&) {
    ++n;
    return true;
  });
  return st.ok() ? n : UINT64_MAX;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& dir = scratch();
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::string header = "MVAUDIT1";
    header.push_back(1);
    header.append(7, '\0');
    std::ofstream out(dir / "0000000000.log", std::ios::binary);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto opened = AuditFiles::open(dir);
  check(opened.ok());
  AuditFiles& f = **opened;
  auto n = f.refresh();
  check(n.ok());
  // Well-formed records are visited whatever they hold (their sequence
  // numbers are verify's business), and no more than the size says.
  const uint64_t seen = scanned(f);
  check(seen == *n);
  (void)f.find(AuditFiles::Key::patient, "p1", 10);
  (void)f.find(AuditFiles::Key::user, "u", 10);
  (void)f.find_time(0, INT64_MAX, 10);
  (void)f.extents(*n);
  // What a power cut can leave is cut; then the log takes an entry.
  auto cut = f.repair_tail(0);
  check(cut.ok());
  check(f.size() == *n);
  AuditRow row{*n + 1, 42, "p1", "u", "{\"v\":1}", std::string(32, 'l'), std::string(32, 'c')};
  check(f.append(std::vector<AuditRow>{row}).ok());
  auto again = AuditFiles::open(dir);
  check(again.ok());
  check(scanned(**again) == *n + 1);
  return 0;
}
