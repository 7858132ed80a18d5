// Test-only, header-only: a throwaway PostgreSQL 15 cluster for the engine's
// tests. initdb into a fresh temp dir, `postgres` on a free 127.0.0.1 port
// with its unix socket in that dir, fsync on, trust authentication on
// loopback. PostgreSQL refuses to run as root: when the tests run as root
// (the machine and CI do), the cluster's processes run as the `postgres`
// system user (created by the postgresql-15 package) and the temp dir is
// chowned to it. The postmaster is our child and gets SIGQUIT if the test
// process dies, so a crashed test leaves no server behind.
//
// One cluster per test binary, started on first use (a binary whose selected
// tests are all SQLite ones never starts it) and stopped by a gtest
// Environment at the end; a fresh database per test (create_database()).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace medvault::store::testing {

class PgTestCluster {
 public:
  static constexpr const char* kBin = "/usr/lib/postgresql/15/bin/";

  // Creates and starts a cluster; nullptr (and *why) on failure.
  static std::unique_ptr<PgTestCluster> create(std::string* why) {
    auto c = std::unique_ptr<PgTestCluster>(new PgTestCluster());
    if (!c->init(why)) return nullptr;
    for (int attempt = 0; attempt < 3; ++attempt)
      if (c->start(free_port())) return c;
    *why = "postgres did not start; see " + (c->dir_ / "postgres.log").string();
    return nullptr;
  }

  ~PgTestCluster() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }

  std::string conninfo(const std::string& db) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + db;
  }

  // A new empty database; returns its conninfo ("" on failure).
  std::string create_database() {
    const std::string name = "t" + std::to_string(++databases_);
    return admin("CREATE DATABASE " + name) ? conninfo(name) : std::string();
  }

  // Runs one SQL command as the superuser on `db`.
  bool admin(const std::string& sql, const std::string& db = "postgres") const {
    PGconn* c = PQconnectdb(conninfo(db).c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
      PGresult* r = PQexec(c, sql.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
      PQclear(r);
    }
    PQfinish(c);
    return ok;
  }

  // Fast shutdown (SIGINT, as `pg_ctl stop -m fast`): sessions are ended.
  bool stop() {
    if (pid_ <= 0) return true;
    ::kill(pid_, SIGINT);
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return false;
  }

  // Starts the server again on the same port.
  bool start() { return start(port_); }

 private:
  PgTestCluster() = default;

  static int free_port() {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    ::close(s);
    return port;
  }

  bool init(std::string* why) {
    char tmpl[] = "/tmp/mv-pg-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      *why = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (!pw) {
        *why = "running as root and there is no `postgres` user (install postgresql-15)";
        return false;
      }
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) {
        *why = "cannot chown the cluster dir to postgres";
        return false;
      }
    }
    const std::string data = (dir_ / "data").string();
    pid_t pid = spawn({std::string(kBin) + "initdb", "-D", data, "-U", "postgres", "-A", "trust",
                       "-E", "UTF8", "--locale=C", "--no-sync"});
    int status = 0;
    if (pid <= 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      *why = "initdb failed; see " + (dir_ / "postgres.log").string();
      return false;
    }
    return true;
  }

  bool start(int port) {
    port_ = port;
    pid_ = spawn({std::string(kBin) + "postgres", "-D", (dir_ / "data").string(), "-k",
                  dir_.string(), "-h", "127.0.0.1", "-p", std::to_string(port), "-c", "fsync=on",
                  "-c", "shared_buffers=16MB", "-c", "max_connections=100"});
    if (pid_ <= 0) return false;
    const std::string ping = conninfo("postgres");
    for (int i = 0; i < 300; ++i) {
      if (PQping(ping.c_str()) == PQPING_OK) return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) break;  // exited (port taken?)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop();
    return false;
  }

  // fork + exec with output appended to postgres.log; as `postgres` when we
  // are root. The death signal is set after the uid change (which clears it).
  pid_t spawn(const std::vector<std::string>& argv) {
    const std::string log = (dir_ / "postgres.log").string();
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    if (uid_ != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0))
      ::_exit(127);
    ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (::getppid() != parent) ::_exit(1);
    ::execv(args[0], args.data());
    ::_exit(127);
  }

  std::filesystem::path dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  std::atomic<int> databases_{0};
};

// The binary's one cluster, started on first use; stopped at the end.
class PgClusterEnvironment : public ::testing::Environment {
 public:
  static PgTestCluster* cluster() {
    if (!instance_ && error_.empty()) {
      instance_ = PgTestCluster::create(&error_);
      if (!instance_ && error_.empty()) error_ = "cannot start PostgreSQL";
    }
    return instance_.get();
  }
  static const std::string& error() { return error_; }
  void TearDown() override { instance_.reset(); }

 private:
  static inline std::unique_ptr<PgTestCluster> instance_;
  static inline std::string error_;
};

inline ::testing::Environment* const kPgClusterEnvironment =
    ::testing::AddGlobalTestEnvironment(new PgClusterEnvironment);

}  // namespace medvault::store::testing
