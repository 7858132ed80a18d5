// The SFTP target (libssh): public-key authentication only, and the server's
// host key must be in the given known_hosts file.
#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "backup/target.h"

namespace medvault::backup {
namespace {

struct Url {
  std::string user, host, path;
  int port = 22;
};

Result<Url> parse_url(std::string_view url) {
  auto bad = [&] {
    return make_error(Errc::invalid, "bad SFTP URL (expected sftp://user@host[:port]/path)");
  };
  if (!url.starts_with("sftp://")) return bad();
  url.remove_prefix(7);
  size_t slash = url.find('/');
  if (slash == std::string_view::npos) return bad();
  std::string_view auth = url.substr(0, slash);
  Url u;
  u.path = std::string(url.substr(slash + 1));
  size_t at = auth.rfind('@');
  if (at == std::string_view::npos || at == 0) return bad();
  u.user = std::string(auth.substr(0, at));
  std::string_view hp = auth.substr(at + 1);
  if (!hp.empty() && hp.front() == '[') {  // [IPv6]:port
    size_t close = hp.find(']');
    if (close == std::string_view::npos) return bad();
    u.host = std::string(hp.substr(1, close - 1));
    hp.remove_prefix(close + 1);
    if (!hp.empty() && hp.front() != ':') return bad();
  } else {
    size_t colon = hp.find(':');
    u.host = std::string(hp.substr(0, colon));
    hp = colon == std::string_view::npos ? std::string_view() : hp.substr(colon);
  }
  if (!hp.empty()) {
    hp.remove_prefix(1);
    auto [p, ec] = std::from_chars(hp.data(), hp.data() + hp.size(), u.port);
    if (ec != std::errc() || p != hp.data() + hp.size() || u.port < 1 || u.port > 65535) return bad();
  }
  if (u.host.empty() || u.path.empty()) return bad();
  while (u.path.size() > 1 && u.path.back() == '/') u.path.pop_back();
  return u;
}

class SftpTarget final : public Target {
 public:
  SftpTarget(std::string url, ssh_session s, sftp_session f, std::string root)
      : url_(std::move(url)), ssh_(s), sftp_(f), root_(std::move(root)) {}
  ~SftpTarget() override {
    sftp_free(sftp_);
    ssh_disconnect(ssh_);
    ssh_free(ssh_);
  }

  std::string describe() const override { return url_; }

  Result<std::vector<std::string>> list(const std::string& prefix) override {
    if (!valid_object_name(prefix)) return bad_name(prefix);
    std::vector<std::string> out;
    MV_TRY(walk(prefix, out, 0));
    return out;
  }

  Status put(const std::string& name, std::string_view bytes) override {
    if (!valid_object_name(name)) return bad_name(name);
    MV_TRY(make_parents(name));
    unsigned char r[8];
    randombytes_buf(r, sizeof r);
    std::string tmp = path(name) + ".tmp" + std::to_string(r[0] | (r[1] << 8) | (r[2] << 16));
    sftp_file f = sftp_open(sftp_, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (f == nullptr) return error("cannot create " + tmp);
    size_t off = 0;
    while (off < bytes.size()) {
      size_t n = std::min<size_t>(bytes.size() - off, 64 * 1024);
      ssize_t w = sftp_write(f, bytes.data() + off, n);
      if (w <= 0) {
        sftp_close(f);
        sftp_unlink(sftp_, tmp.c_str());
        return error("cannot write " + tmp);
      }
      off += static_cast<size_t>(w);
    }
    if (sftp_close(f) != SSH_OK) {
      sftp_unlink(sftp_, tmp.c_str());
      return error("cannot close " + tmp);
    }
    // sftp_rename uses posix-rename@openssh.com when the server has it
    // (atomic replace); a plain SFTP v3 rename fails if the name exists.
    if (sftp_rename(sftp_, tmp.c_str(), path(name).c_str()) != SSH_OK) {
      sftp_unlink(sftp_, path(name).c_str());
      if (sftp_rename(sftp_, tmp.c_str(), path(name).c_str()) != SSH_OK) {
        sftp_unlink(sftp_, tmp.c_str());
        return error("cannot rename to " + path(name));
      }
    }
    return ok_status();
  }

  Result<std::string> get(const std::string& name, size_t max_size) override {
    if (!valid_object_name(name)) return bad_name(name);
    sftp_file f = sftp_open(sftp_, path(name).c_str(), O_RDONLY, 0);
    if (f == nullptr) {
      if (sftp_get_error(sftp_) == SSH_FX_NO_SUCH_FILE) return make_error(Errc::not_found, name + " is missing");
      return error("cannot open " + path(name));
    }
    std::string out;
    char buf[64 * 1024];
    for (;;) {
      ssize_t n = sftp_read(f, buf, sizeof buf);
      if (n < 0) {
        sftp_close(f);
        return error("cannot read " + path(name));
      }
      if (n == 0) break;
      if (out.size() + static_cast<size_t>(n) > max_size) {
        sftp_close(f);
        return make_error(Errc::too_large, name + " is larger than " + std::to_string(max_size) + " bytes");
      }
      out.append(buf, static_cast<size_t>(n));
    }
    sftp_close(f);
    return out;
  }

  Result<bool> exists(const std::string& name) override {
    if (!valid_object_name(name)) return bad_name(name);
    sftp_attributes a = sftp_stat(sftp_, path(name).c_str());
    if (a != nullptr) {
      sftp_attributes_free(a);
      return true;
    }
    if (sftp_get_error(sftp_) == SSH_FX_NO_SUCH_FILE) return false;
    return error("cannot stat " + path(name));
  }

  Status remove(const std::string& name) override {
    if (!valid_object_name(name)) return bad_name(name);
    if (sftp_unlink(sftp_, path(name).c_str()) != SSH_OK && sftp_get_error(sftp_) != SSH_FX_NO_SUCH_FILE)
      return error("cannot remove " + path(name));
    return ok_status();
  }

 private:
  static Error bad_name(std::string_view name) {
    return make_error(Errc::invalid, "bad object name \"" + std::string(name) + "\"");
  }
  Error error(const std::string& what) const {
    return make_error(Errc::io, "sftp " + url_ + ": " + what + " (" + ssh_get_error(ssh_) + ")");
  }
  std::string path(const std::string& name) const { return root_ + "/" + name; }

  Status make_parents(const std::string& name) {
    for (size_t pos = 0; (pos = name.find('/', pos)) != std::string::npos; ++pos) {
      const std::string dir = path(name.substr(0, pos));
      if (known_dirs_.count(dir)) continue;
      if (sftp_mkdir(sftp_, dir.c_str(), 0700) != SSH_OK && sftp_get_error(sftp_) != SSH_FX_FILE_ALREADY_EXISTS) {
        sftp_attributes a = sftp_stat(sftp_, dir.c_str());
        if (a == nullptr) return error("cannot create " + dir);
        sftp_attributes_free(a);
      }
      known_dirs_.insert(dir);
    }
    return ok_status();
  }

  Status walk(const std::string& rel, std::vector<std::string>& out, int depth) {
    if (depth > 8) return make_error(Errc::invalid, "backup target folders nest too deep");
    sftp_dir d = sftp_opendir(sftp_, path(rel).c_str());
    if (d == nullptr) {
      if (sftp_get_error(sftp_) == SSH_FX_NO_SUCH_FILE) return ok_status();
      return error("cannot list " + path(rel));
    }
    std::vector<std::string> subdirs;
    while (sftp_attributes a = sftp_readdir(sftp_, d)) {
      std::string n = a->name ? a->name : "";
      const bool is_dir = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
      const bool is_file = a->type == SSH_FILEXFER_TYPE_REGULAR;
      sftp_attributes_free(a);
      if (n == "." || n == ".." || n.find(".tmp") != std::string::npos) continue;
      if (is_dir) subdirs.push_back(rel + "/" + n);
      else if (is_file) out.push_back(rel + "/" + n);
    }
    sftp_closedir(d);
    for (const auto& s : subdirs) MV_TRY(walk(s, out, depth + 1));
    return ok_status();
  }

  std::string url_;
  ssh_session ssh_;
  sftp_session sftp_;
  std::string root_;
  std::set<std::string> known_dirs_;
};

}  // namespace

Result<std::unique_ptr<Target>> open_sftp_target(const std::string& url, const SftpOptions& o) {
  MV_ASSIGN(Url u, parse_url(url));
  if (o.identity_file.empty()) return make_error(Errc::invalid, "an SFTP target needs --ssh-key FILE");
  if (o.known_hosts.empty()) return make_error(Errc::invalid, "an SFTP target needs --known-hosts FILE");
  ssh_session s = ssh_new();
  if (s == nullptr) return make_error(Errc::internal, "cannot create an SSH session");
  auto fail = [&](Errc code, const std::string& msg) {
    std::string m = "sftp " + url + ": " + msg;
    ssh_disconnect(s);
    ssh_free(s);
    return make_error(code, m);
  };
  long timeout = 30;
  ssh_options_set(s, SSH_OPTIONS_HOST, u.host.c_str());
  ssh_options_set(s, SSH_OPTIONS_PORT, &u.port);
  ssh_options_set(s, SSH_OPTIONS_USER, u.user.c_str());
  ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, o.known_hosts.c_str());
  ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
  // No ~/.ssh/config, no agent: only what the command line names.
  int no = 0;
  ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
  if (ssh_connect(s) != SSH_OK) return fail(Errc::unavailable, std::string("cannot connect: ") + ssh_get_error(s));
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK: break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return fail(Errc::unauthenticated, "the server's host key differs from the one in " + o.known_hosts);
    default: return fail(Errc::unauthenticated, "the server's host key is not in " + o.known_hosts);
  }
  ssh_key key = nullptr;
  if (ssh_pki_import_privkey_file(o.identity_file.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK)
    return fail(Errc::invalid, "cannot read the SSH key " + o.identity_file + " (unencrypted keys only)");
  int rc = ssh_userauth_publickey(s, nullptr, key);
  ssh_key_free(key);
  if (rc != SSH_AUTH_SUCCESS) return fail(Errc::unauthenticated, "the server refused the SSH key");
  sftp_session f = sftp_new(s);
  if (f == nullptr || sftp_init(f) != SSH_OK) {
    if (f) sftp_free(f);
    return fail(Errc::unavailable, std::string("cannot start SFTP: ") + ssh_get_error(s));
  }
  // A relative path is under the login directory.
  std::string root = u.path;
  if (!root.starts_with("/")) {
    char* home = sftp_canonicalize_path(f, ".");
    if (home == nullptr) {
      sftp_free(f);
      return fail(Errc::io, "cannot resolve the login directory");
    }
    root = std::string(home) + "/" + root;
    ssh_string_free_char(home);
  }
  auto t = std::make_unique<SftpTarget>(url, s, f, root);
  // The root folder itself.
  if (sftp_mkdir(f, root.c_str(), 0700) != SSH_OK && sftp_get_error(f) != SSH_FX_FILE_ALREADY_EXISTS) {
    sftp_attributes a = sftp_stat(f, root.c_str());
    if (a == nullptr) return make_error(Errc::io, "sftp " + url + ": cannot create " + root);
    sftp_attributes_free(a);
  }
  return std::unique_ptr<Target>(std::move(t));
}

}  // namespace medvault::backup
