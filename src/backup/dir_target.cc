#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <system_error>

#include "backup/target.h"
#include "common/file.h"

namespace medvault::backup {
namespace fs = std::filesystem;

bool valid_object_name(std::string_view name) {
  if (name.empty() || name.size() > 512 || name.front() == '/' || name.back() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view seg = name.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
            c == '_' || c == '-'))
        return false;
    start = end + 1;
  }
  return true;
}

namespace {

Error bad_name(std::string_view name) {
  return make_error(Errc::invalid, "bad object name \"" + std::string(name) + "\"");
}

class DirTarget final : public Target {
 public:
  explicit DirTarget(fs::path root) : root_(std::move(root)) {}

  std::string describe() const override { return root_.string(); }

  Result<std::vector<std::string>> list(const std::string& prefix) override {
    if (!valid_object_name(prefix)) return bad_name(prefix);
    std::vector<std::string> out;
    std::error_code ec;
    const fs::path base = root_ / prefix;
    if (!fs::exists(base, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string rel = fs::relative(it->path(), root_, ec).generic_string();
      // Temporary files of an interrupted put are not objects.
      if (rel.find(".tmp") != std::string::npos) continue;
      out.push_back(std::move(rel));
    }
    if (ec) return make_error(Errc::io, "cannot list " + base.string() + ": " + ec.message());
    return out;
  }

  Status put(const std::string& name, std::string_view bytes) override {
    if (!valid_object_name(name)) return bad_name(name);
    const fs::path p = root_ / name;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) return make_error(Errc::io, "cannot create " + p.parent_path().string() + ": " + ec.message());
    return write_file_atomic(p, bytes, 0600);
  }

  Result<std::string> get(const std::string& name, size_t max_size) override {
    if (!valid_object_name(name)) return bad_name(name);
    const fs::path p = root_ / name;
    std::error_code ec;
    if (!fs::exists(p, ec)) return make_error(Errc::not_found, name + " is missing");
    return read_file(p, max_size);
  }

  Result<bool> exists(const std::string& name) override {
    if (!valid_object_name(name)) return bad_name(name);
    std::error_code ec;
    bool e = fs::exists(root_ / name, ec);
    if (ec) return make_error(Errc::io, "cannot read " + (root_ / name).string() + ": " + ec.message());
    return e;
  }

  Status remove(const std::string& name) override {
    if (!valid_object_name(name)) return bad_name(name);
    std::error_code ec;
    fs::remove(root_ / name, ec);
    if (ec) return make_error(Errc::io, "cannot remove " + (root_ / name).string() + ": " + ec.message());
    return ok_status();
  }

 private:
  fs::path root_;
};

}  // namespace

Result<std::unique_ptr<Target>> open_directory_target(const fs::path& dir, bool create) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (!create) return make_error(Errc::not_found, "no backup directory " + dir.string());
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  return std::unique_ptr<Target>(new DirTarget(dir));
}

Result<std::unique_ptr<Target>> open_target(const std::string& spec, const SftpOptions& options, bool create) {
  if (spec.starts_with("sftp://")) return open_sftp_target(spec, options);
  if (spec.find("://") != std::string::npos)
    return make_error(Errc::invalid, "unsupported backup target \"" + spec + "\" (a directory or sftp://user@host/path)");
  if (spec.empty()) return make_error(Errc::invalid, "empty backup target");
  return open_directory_target(spec, create);
}

}  // namespace medvault::backup
