// The real listener over TLS, with an in-memory vault: protocol and suite
// restrictions, keep-alive, limits (431/413), timeouts, the connection cap,
// and shutdown on SIGTERM. The client is plain OpenSSL over a socket.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include "http/fake_vault_test.h"

namespace medvault::http {
namespace {

namespace fs = std::filesystem;

class TlsClient {
 public:
  // Connects and handshakes; false on failure. max_version 0: no limit.
  bool connect(uint16_t port, int max_version = 0, const char* tls12_ciphers = nullptr) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (max_version) SSL_CTX_set_max_proto_version(ctx_, max_version);
    if (max_version && max_version < TLS1_2_VERSION) {
      SSL_CTX_set_min_proto_version(ctx_, max_version);
      SSL_CTX_set_security_level(ctx_, 0);
      SSL_CTX_set_cipher_list(ctx_, "ALL:@SECLEVEL=0");
    }
    if (tls12_ciphers) SSL_CTX_set_cipher_list(ctx_, tls12_ciphers);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    const bool ok = SSL_connect(ssl_) == 1;
    ERR_clear_error();
    return ok;
  }
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  std::string version() const { return SSL_get_version(ssl_); }
  bool send(std::string_view bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
  }
  // One response (headers + Content-Length body); empty if the connection closed.
  std::string response() {
    std::string buf;
    char chunk[4096];
    size_t need = std::string::npos;
    while (true) {
      if (need == std::string::npos) {
        if (size_t end = buf.find("\r\n\r\n"); end != std::string::npos) {
          size_t cl = 0;
          if (size_t p = buf.find("Content-Length: "); p != std::string::npos && p < end)
            cl = std::stoul(buf.substr(p + 16));
          need = end + 4 + cl;
        }
      }
      if (need != std::string::npos && buf.size() >= need) return buf.substr(0, need);
      const int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n <= 0) {
        ERR_clear_error();
        return need == std::string::npos ? "" : buf;
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
  }
  // Whatever one read returns ("" on close or error).
  std::string response_bytes(char* buf, int size) {
    const int n = SSL_read(ssl_, buf, size);
    ERR_clear_error();
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  // True when the server has closed the connection (read returns EOF or error).
  bool closed() {
    char c;
    const int n = SSL_read(ssl_, &c, 1);
    ERR_clear_error();
    return n <= 0;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

std::string get(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" + std::string(extra) + "\r\n";
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The client writes with SSL_write on plain sockets that the server may
    // have closed (connection cap, timeouts): EPIPE, not a signal.
    std::signal(SIGPIPE, SIG_IGN);
    std::string tmpl = (fs::temp_directory_path() / "mv_http_server_XXXXXX").string();
    dir_ = new fs::path(mkdtemp(tmpl.data()));
    ASSERT_TRUE(create_self_signed(*dir_ / "tls").ok());
    vault_ = new testing::FakeVault();
    vault_->dir_ = *dir_;
    ServeOptions opts;
    opts.listen = "127.0.0.1:0";
    opts.threads = 2;
    opts.max_header = 2048;
    opts.max_body = 4096;
    opts.max_connections = 8;
    opts.header_timeout_s = 1;
    opts.idle_timeout_s = 2;
    std::promise<uint16_t> listening;
    auto port = listening.get_future();
    server_ = new std::thread([opts, p = std::move(listening)]() mutable {
      Status st = serve(*vault_, opts, [&](uint16_t port) { p.set_value(port); });
      result_ok_ = st.ok();
    });
    ASSERT_EQ(port.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    port_ = port.get();
  }
  static void TearDownTestSuite() {
    std::raise(SIGTERM);
    server_->join();
    EXPECT_TRUE(result_ok_);
    delete server_;
    delete vault_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static inline fs::path* dir_ = nullptr;
  static inline testing::FakeVault* vault_ = nullptr;
  static inline std::thread* server_ = nullptr;
  static inline uint16_t port_ = 0;
  static inline std::atomic<bool> result_ok_{false};
};

TEST_F(ServerTest, HealthzOverTls13WithSecurityHeadersAndKeepAlive) {
  TlsClient c;
  ASSERT_TRUE(c.connect(port_));
  EXPECT_EQ(c.version(), "TLSv1.3");
  for (int i = 0; i < 3; ++i) {  // one connection, three requests
    ASSERT_TRUE(c.send(get("/healthz")));
    const std::string r = c.response();
    ASSERT_TRUE(r.starts_with("HTTP/1.1 200")) << r;
    EXPECT_NE(r.find("Strict-Transport-Security: max-age="), std::string::npos);
    EXPECT_NE(r.find("Cache-Control: no-store"), std::string::npos);
    EXPECT_NE(r.find("X-Request-Id: "), std::string::npos);
    EXPECT_NE(r.find(R"({"status":"ok"})"), std::string::npos);
  }
}

TEST_F(ServerTest, HeadGetsTheHeadersOfGetWithoutTheBody) {
  TlsClient c;
  ASSERT_TRUE(c.connect(port_));
  ASSERT_TRUE(c.send("HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  char buf[4096];
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    std::string chunk = c.response_bytes(buf, sizeof buf);
    ASSERT_FALSE(chunk.empty());
    head += chunk;
  }
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_NE(head.find("Content-Length: 15\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;  // no body bytes
  ASSERT_TRUE(c.send(get("/healthz")));  // the connection is still in sync
  EXPECT_TRUE(c.response().ends_with(R"({"status":"ok"})"));
}

TEST_F(ServerTest, FhirOverTheWire) {
  TlsClient c;
  ASSERT_TRUE(c.connect(port_));
  ASSERT_TRUE(c.send(get("/fhir/Patient/x")));
  std::string r = c.response();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 401")) << r;
  EXPECT_NE(r.find("WWW-Authenticate: Bearer"), std::string::npos);
  const std::string body = R"({"resourceType":"Patient","gender":"female"})";
  ASSERT_TRUE(c.send("POST /fhir/Patient HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer mvt_doctor\r\n"
                     "Content-Type: application/fhir+json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body));
  r = c.response();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 201")) << r;
  EXPECT_NE(r.find("ETag: W/\"1\""), std::string::npos);
  EXPECT_NE(r.find("Location: https://localhost/fhir/Patient/"), std::string::npos);
}

TEST_F(ServerTest, Tls12NeedsAnAeadEcdheSuite) {
  TlsClient ok;
  ASSERT_TRUE(ok.connect(port_, TLS1_2_VERSION));
  EXPECT_EQ(ok.version(), "TLSv1.2");
  TlsClient cbc;
  EXPECT_FALSE(cbc.connect(port_, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384"));
}

TEST_F(ServerTest, OldProtocolsAreRefused) {
  TlsClient c;
  EXPECT_FALSE(c.connect(port_, TLS1_1_VERSION));
  TlsClient d;
  EXPECT_FALSE(d.connect(port_, TLS1_VERSION));
}

TEST_F(ServerTest, OversizedHeadersAre431AndBodies413) {
  TlsClient c;
  ASSERT_TRUE(c.connect(port_));
  ASSERT_TRUE(c.send(get("/healthz", "X-Filler: " + std::string(4000, 'a') + "\r\n")));
  std::string r = c.response();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 431")) << r;
  EXPECT_NE(r.find("OperationOutcome"), std::string::npos);
  EXPECT_TRUE(c.closed());

  TlsClient d;
  ASSERT_TRUE(d.connect(port_));
  ASSERT_TRUE(d.send("POST /fhir/Patient HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer mvt_doctor\r\n"
                     "Content-Type: application/fhir+json\r\nContent-Length: 100000\r\n\r\n{"));
  r = d.response();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 413")) << r;
  EXPECT_TRUE(d.closed());

  TlsClient e;  // chunked, no Content-Length: the limit applies as the body arrives
  ASSERT_TRUE(e.connect(port_));
  std::string chunked = "POST /fhir/Patient HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer mvt_doctor\r\n"
                        "Content-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "400\r\n" + std::string(1024, ' ') + "\r\n";
  ASSERT_TRUE(e.send(chunked));
  r = e.response();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 413")) << r;
}

TEST_F(ServerTest, MalformedRequestIs400) {
  TlsClient c;
  ASSERT_TRUE(c.connect(port_));
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n"));
  const std::string r = c.response();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
}

TEST_F(ServerTest, SlowHeadersAndIdleConnectionsAreClosed) {
  TlsClient slow;
  ASSERT_TRUE(slow.connect(port_));
  ASSERT_TRUE(slow.send("GET /healthz HTTP/1.1\r\nHost: loc"));  // and then nothing
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.closed());
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(waited, std::chrono::milliseconds(3000));  // header timeout 1s, not the 5s read timeout

  TlsClient idle;
  ASSERT_TRUE(idle.connect(port_));
  ASSERT_TRUE(idle.send(get("/healthz")));
  EXPECT_TRUE(idle.response().starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(idle.closed());  // after the 2s idle timeout
}

TEST_F(ServerTest, HandshakeTimeoutFreesTheConnection) {
  // A TCP connection that never starts TLS is dropped after the header timeout.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_LE(::recv(fd, &c, 1, 0), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(3000));
  ::close(fd);
}

TEST_F(ServerTest, ConnectionCap) {
  std::vector<std::unique_ptr<TlsClient>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<TlsClient>());
    ASSERT_TRUE(held.back()->connect(port_)) << i;
  }
  TlsClient extra;
  EXPECT_FALSE(extra.connect(port_));
  held.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  TlsClient again;
  EXPECT_TRUE(again.connect(port_));
}

}  // namespace
}  // namespace medvault::http
