#include "cli/secrets.h"

#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/file.h"

namespace medvault::cli {
namespace {

// Reads one line from /dev/tty without echo.
Result<crypto::SecretString> prompt_tty(const char* prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::invalid, "no passphrase: set MEDVAULT_PASSPHRASE, give --passphrase-file, or run on a terminal");
  (void)!::write(fd, prompt, std::strlen(prompt));
  termios old{};
  bool restore = ::tcgetattr(fd, &old) == 0;
  if (restore) {
    termios noecho = old;
    noecho.c_lflag &= static_cast<tcflag_t>(~ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &noecho);
  }
  char buf[1024];
  size_t n = 0;
  char c;
  while (n < sizeof buf && ::read(fd, &c, 1) == 1 && c != '\n') buf[n++] = c;
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
  (void)!::write(fd, "\n", 1);
  ::close(fd);
  crypto::SecretString s(std::string_view(buf, n));
  sodium_memzero(buf, sizeof buf);
  return s;
}

}  // namespace

Result<crypto::SecretString> read_passphrase(const std::string& file, const char* env,
                                             const char* prompt, bool confirm) {
  if (!file.empty()) {
    MV_ASSIGN(auto text, read_file(file, 64 * 1024));
    auto nl = text.find('\n');
    crypto::SecretString s(std::string_view(text).substr(0, nl));
    sodium_memzero(text.data(), text.size());
    if (s.empty()) return make_error(Errc::invalid, "passphrase file " + file + " is empty");
    return s;
  }
  if (const char* v = std::getenv(env); v && *v) return crypto::SecretString(v);
  MV_ASSIGN(auto first, prompt_tty(prompt));
  if (first.empty()) return make_error(Errc::invalid, "empty passphrase");
  if (confirm) {
    MV_ASSIGN(auto again, prompt_tty("Repeat: "));
    if (again.view() != first.view()) return make_error(Errc::invalid, "the passphrases differ");
  }
  return first;
}

Result<vault::Unsealer> unsealer_from(const SecretSources& s) {
  vault::Unsealer u;
  if (!s.share_files.empty()) {
    for (const auto& f : s.share_files) {
      MV_ASSIGN(auto text, read_file(f, 64 * 1024));
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      u.shares.push_back(std::move(text));
    }
    return u;
  }
  if (!s.key_file.empty()) {
    MV_ASSIGN(auto bytes, read_file(s.key_file, 1024 * 1024));
    u.keyfile = std::move(bytes);
    return u;
  }
  MV_ASSIGN(auto pass, read_passphrase(s.passphrase_file, "MEDVAULT_PASSPHRASE", "Vault passphrase: ", false));
  u.passphrase = std::move(pass);
  return u;
}

}  // namespace medvault::cli
