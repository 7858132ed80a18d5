#include "audit/syslog_forwarder.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <list>
#include <mutex>
#include <thread>

namespace medvault::audit {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

Entry known_entry() {
  Entry e;
  e.time_ms = 1700000000123;  // 2023-11-14T22:13:20.123Z
  e.user = "alice";
  e.role = "physician";
  e.action = "read";
  e.type = "Patient";
  e.id = "p-1";
  e.patient = "p-1";
  e.purpose = "TREAT";
  e.explanation = "role physician";
  e.address = "10.0.0.7";
  e.workstation = "ws-3";
  e.outcome = "0";
  e.detail = "c2VhbGVkIGRldGFpbA==";
  return e;
}

// The raw (escaped) PARAM-VALUE of `name` in a formatted message, "" if absent.
std::string raw_param(const std::string& msg, const std::string& name) {
  const auto at = msg.find(" " + name + "=\"");
  if (at == std::string::npos) return "";
  std::string out;
  for (size_t i = at + name.size() + 3; i < msg.size() && msg[i] != '"'; ++i) {
    if (msg[i] == '\\') out += msg[i++];
    out += msg[i];
  }
  return out;
}

TEST(SyslogFormat, ExactBytesOfAKnownEntry) {
  EXPECT_EQ(format_syslog(42, known_entry(), "mv-host", "4242"),
            "<85>1 2023-11-14T22:13:20.123Z mv-host medvault 4242 audit [medvault@32473 seq=\"42\" "
            "user=\"alice\" role=\"physician\" action=\"read\" type=\"Patient\" id=\"p-1\" "
            "patient=\"p-1\" purpose=\"TREAT\" outcome=\"0\" address=\"10.0.0.7\" "
            "workstation=\"ws-3\" flagged=\"false\"] alice (physician) read Patient/p-1 of patient "
            "p-1: success");
}

TEST(SyslogFormat, NeitherDetailNorExplanationIsSent) {
  const std::string m = format_syslog(1, known_entry(), "h", "1");
  EXPECT_EQ(m.find("c2VhbGVk"), std::string::npos);
  EXPECT_EQ(m.find("role physician"), std::string::npos);
}

TEST(SyslogFormat, SeverityFollowsOutcomeAndBreakTheGlass) {
  Entry e = known_entry();
  EXPECT_EQ(format_syslog(1, e, "h", "1").substr(0, 5), "<85>1");  // authpriv.notice
  e.outcome = "4";
  EXPECT_EQ(format_syslog(1, e, "h", "1").substr(0, 5), "<84>1");  // warning
  EXPECT_NE(format_syslog(1, e, "h", "1").find(": minor failure"), std::string::npos);
  e.outcome = "8";
  EXPECT_EQ(format_syslog(1, e, "h", "1").substr(0, 5), "<83>1");  // err
  e.outcome = "12";
  EXPECT_EQ(format_syslog(1, e, "h", "1").substr(0, 5), "<83>1");
  e.outcome = "0";
  e.flagged = true;
  e.purpose = "ETREAT";
  const std::string m = format_syslog(1, e, "h", "1");
  EXPECT_EQ(m.substr(0, 5), "<81>1");  // alert
  EXPECT_NE(m.find("flagged=\"true\"] break-the-glass: alice"), std::string::npos) << m;
}

TEST(SyslogFormat, EscapesHostileValues) {
  Entry e = known_entry();
  e.user = "a\"b\\c]d";
  e.id = "x\ny\rz\x01" "\x7f";
  e.role = "m\xC3\xA9" "decin";    // médecin: UTF-8 kept in the SD-PARAM
  e.address = "\xff\xC3(\xED\xA0\x80";  // invalid byte, truncated sequence, surrogate
  const std::string m = format_syslog(7, e, "h", "1");
  EXPECT_NE(m.find(" user=\"a\\\"b\\\\c\\]d\""), std::string::npos) << m;
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_NE(m.find(" id=\"x" + fffd + "y" + fffd + "z" + fffd + fffd + "\""), std::string::npos) << m;
  EXPECT_NE(m.find(" role=\"m\xC3\xA9" "decin\""), std::string::npos) << m;
  EXPECT_NE(m.find(" address=\"" + fffd + fffd + "(" + fffd + fffd + fffd + "\""), std::string::npos) << m;
  // The summary is printable ASCII; no control character anywhere.
  EXPECT_NE(m.find("] a\"b\\c]d (m??decin) read Patient/x?y?z??"), std::string::npos) << m;
  for (char c : m) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f);
  // Exactly one unescaped ']' closes the structured data.
  const auto sd_end = m.find("\"] ");
  ASSERT_NE(sd_end, std::string::npos);
  EXPECT_EQ(m.find("\"] ", sd_end + 1), std::string::npos);
}

TEST(SyslogFormat, LongValuesAreCutAtACharacterBoundary) {
  Entry e = known_entry();
  for (auto* f : {&e.user, &e.role, &e.action, &e.type, &e.id, &e.patient, &e.purpose, &e.outcome,
                  &e.address, &e.workstation}) {
    *f = std::string(10 * 1024, 'a');
  }
  e.id = std::string(10 * 1024, '\xC3');  // invalid alone: each byte becomes U+FFFD (3 bytes)
  e.patient.clear();
  for (int i = 0; i < 5000; ++i) e.patient += "\xC3\xA9";  // é x 5000
  const std::string m = format_syslog(1, e, "h", "1");
  EXPECT_LT(m.size(), 8192u);  // the size RFC 5425 receivers should accept
  std::string e_acute;
  for (int i = 0; i < 254; ++i) e_acute += "\xC3\xA9";  // 508 bytes: whole characters only
  EXPECT_EQ(raw_param(m, "patient"), e_acute + "...");
  std::string fffd;
  for (int i = 0; i < 169; ++i) fffd += "\xEF\xBF\xBD";  // 507 bytes
  EXPECT_EQ(raw_param(m, "id"), fffd + "...");
  EXPECT_EQ(raw_param(m, "user"), std::string(509, 'a') + "...");
}

TEST(SyslogFormat, EscapesCountTowardsTheCut) {
  Entry e = known_entry();
  for (auto* f : {&e.user, &e.role, &e.action, &e.type, &e.id, &e.patient, &e.purpose, &e.outcome,
                  &e.address, &e.workstation}) {
    *f = std::string(10 * 1024, ']');
  }
  const std::string m = format_syslog(1, e, "h", "1");
  EXPECT_LT(m.size(), 8192u);
  std::string escaped;
  for (int i = 0; i < 254; ++i) escaped += "\\]";  // 508 bytes, never half an escape
  EXPECT_EQ(raw_param(m, "user"), escaped + "...");
  EXPECT_NE(m.find("] ]]]]]]"), std::string::npos);  // the summary: 64 bytes of it
}

TEST(SyslogFormat, TimestampOutOfRfc3339RangeIsNil) {
  Entry e = known_entry();
  e.time_ms = -1;
  EXPECT_EQ(format_syslog(1, e, "h", "1").substr(0, 9), "<85>1 - h");
  e.time_ms = 253402300800000;
  EXPECT_EQ(format_syslog(1, e, "h", "1").substr(0, 9), "<85>1 - h");
  e.time_ms = 253402300799999;
  EXPECT_EQ(format_syslog(1, e, "h", "1").substr(0, 30), "<85>1 9999-12-31T23:59:59.999Z");
}

TEST(SyslogFormat, HeaderFieldsArePrintableAscii) {
  EXPECT_EQ(format_syslog(1, known_entry(), "", "").substr(0, 44),
            "<85>1 2023-11-14T22:13:20.123Z - medvault - ");
  EXPECT_EQ(format_syslog(1, known_entry(), "a b\nc", "1").substr(31, 14), "a_b_c medvault");
}

TEST(SyslogFormat, OctetCountingFrame) {
  EXPECT_EQ(frame_syslog("hello"), "5 hello");
  EXPECT_EQ(frame_syslog("\xC3\xA9"), "2 \xC3\xA9");  // octets, not characters
  EXPECT_EQ(frame_syslog(""), "0 ");
  const std::string m = format_syslog(1, known_entry(), "h", "1");
  EXPECT_EQ(frame_syslog(m), std::to_string(m.size()) + " " + m);
}

TEST(SyslogUrl, Parses) {
  auto t = parse_syslog_url("tcp://127.0.0.1:5514");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->tls);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 5514);
  t = parse_syslog_url("tls://logs.practice.example");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->tls);
  EXPECT_EQ(t->port, 6514);
  t = parse_syslog_url("tls://[::1]:6514");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "::1");
  for (const char* bad : {"", "udp://h:514", "tcp://", "tcp://h:0", "tcp://h:70000", "tcp://u@h:1",
                          "tcp://h:1/path", "tcp://h:1?q", "h:514", "tcp://h:x", "tcp://h:1#f"}) {
    auto r = parse_syslog_url(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid);
  }
}

// A syslog collector for the tests: accepts on 127.0.0.1, splits the
// octet-counted frames of every connection.
class Receiver {
 public:
  explicit Receiver(uint16_t port = 0)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Receiver() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  size_t connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }
  bool bad_framing() {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_framing_;
  }
  // Closes every accepted connection, as a restarting collector would.
  void drop_connections() {
    asio::post(io_, [this] {
      for (auto& c : conns_) c.sock.close();
    });
  }

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : sock(std::move(s)) {}
    tcp::socket sock;
    std::array<char, 4096> buf{};
    std::string pending;
  };
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      conns_.emplace_back(std::move(s));
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++connections_;
      }
      read(conns_.back());
      accept();
    });
  }
  void read(Conn& c) {
    c.sock.async_read_some(asio::buffer(c.buf), [this, &c](boost::system::error_code ec, size_t n) {
      if (ec) return;
      c.pending.append(c.buf.data(), n);
      for (;;) {
        const auto sp = c.pending.find(' ');
        if (sp == std::string::npos) break;
        size_t len = 0;
        for (size_t i = 0; i < sp; ++i) {
          if (c.pending[i] < '0' || c.pending[i] > '9' || sp > 5) {
            std::lock_guard<std::mutex> lock(mu_);
            bad_framing_ = true;
            return;
          }
          len = len * 10 + (c.pending[i] - '0');
        }
        if (c.pending.size() < sp + 1 + len) break;
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(c.pending.substr(sp + 1, len));
        c.pending.erase(0, sp + 1 + len);
      }
      read(c);
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::list<Conn> conns_;  // stable addresses for the handlers
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> messages_;
  size_t connections_ = 0;
  bool bad_framing_ = false;
};

uint64_t seq_of(const std::string& msg) {
  if (msg.find("[medvault@32473 seq=\"") == std::string::npos) return 0;
  const std::string v = raw_param(msg, "seq");
  return v.empty() ? 0 : std::stoull(v);
}

std::vector<uint64_t> seqs(const std::vector<std::string>& msgs) {
  std::vector<uint64_t> out;
  for (const auto& m : msgs) out.push_back(seq_of(m));
  return out;
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

uint16_t unused_port() {
  Receiver r;
  return r.port();
}

class ForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mv-syslog-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = store::open_sqlite(dir_ / "vault.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    std::vector<uint8_t> a(32, 1), b(32, 2), c(32, 3);
    auto l = Log::open(*store_,
                       {crypto::SecretKey::from_bytes(a), crypto::SecretKey::from_bytes(b),
                        crypto::SecretKey::from_bytes(c)},
                       {"medvault.local/test", 0});
    ASSERT_TRUE(l.ok()) << l.error().message;
    log_ = std::move(l).value();
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void append(int n) {
    for (int i = 0; i < n; ++i) {
      Entry e = known_entry();
      e.id = "p-" + std::to_string(log_->size() + 1);
      ASSERT_TRUE(log_->append(std::move(e)).ok());
    }
  }
  SyslogOptions options(uint16_t port) {
    SyslogOptions o;
    o.url = "tcp://127.0.0.1:" + std::to_string(port);
    o.hostname = "mv-test";
    o.poll_interval = 20ms;
    o.backoff_initial = 20ms;
    o.backoff_max = 100ms;
    o.io_timeout = 2s;
    o.batch = 7;  // several batches per test
    o.log = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_lines_.emplace_back(line);
    };
    return o;
  }
  std::unique_ptr<SyslogForwarder> start(SyslogOptions o) {
    auto f = SyslogForwarder::start(*log_, *store_, std::move(o));
    EXPECT_TRUE(f.ok()) << f.error().message;
    return f.ok() ? std::move(f).value() : nullptr;
  }
  std::string stored_position() {
    auto m = store_->meta(std::string(kSyslogPositionKey));
    return m.ok() && *m ? **m : "";
  }
  std::vector<std::string> log_lines() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return log_lines_;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Log> log_;
  std::mutex log_mu_;
  std::vector<std::string> log_lines_;
};

TEST_F(ForwarderTest, StartsAtTheEndOfTheLogAndStoresItsPosition) {
  append(5);
  Receiver rx;
  auto f = start(options(rx.port()));
  ASSERT_TRUE(f);
  EXPECT_EQ(stored_position(), "5");  // history is not replayed
  append(20);
  f->notify();
  ASSERT_TRUE(eventually([&] { return rx.messages().size() >= 20; }));
  ASSERT_TRUE(eventually([&] { return stored_position() == "25"; }));
  const auto msgs = rx.messages();
  EXPECT_EQ(seqs(msgs), range(6, 25));
  EXPECT_FALSE(rx.bad_framing());
  EXPECT_NE(msgs[0].find(" mv-test medvault "), std::string::npos);
  const auto st = f->stats();
  EXPECT_EQ(st.sent, 20u);
  EXPECT_EQ(st.position, 25u);
  EXPECT_EQ(st.connects, 1u);
  EXPECT_TRUE(st.connected);
  EXPECT_EQ(st.failures, 0u);
  EXPECT_TRUE(log_lines().empty());
}

TEST_F(ForwarderTest, FromStartSendsTheWholeLog) {
  append(10);
  Receiver rx;
  auto o = options(rx.port());
  o.from_start = true;
  auto f = start(o);
  ASSERT_TRUE(eventually([&] { return rx.messages().size() >= 10; }));
  EXPECT_EQ(seqs(rx.messages()), range(1, 10));
}

TEST_F(ForwarderTest, ResumesFromTheStoredPositionAfterARestart) {
  Receiver rx;
  auto f = start(options(rx.port()));
  append(9);
  ASSERT_TRUE(eventually([&] { return stored_position() == "9"; }));
  f.reset();  // the server stops
  append(12);  // entries made while no forwarder runs
  auto o = options(rx.port());
  o.from_start = true;  // ignored: a stored position wins
  f = start(o);
  ASSERT_TRUE(eventually([&] { return rx.messages().size() >= 21; }));
  EXPECT_EQ(seqs(rx.messages()), range(1, 21));
  ASSERT_TRUE(eventually([&] { return stored_position() == "21"; }));
}

TEST_F(ForwarderTest, ReconnectsWhenTheCollectorComesUp) {
  const uint16_t port = unused_port();
  auto f = start(options(port));
  append(10);
  ASSERT_TRUE(eventually([&] { return f->stats().failures >= 3; }));  // retried with backoff
  const auto st = f->stats();
  EXPECT_FALSE(st.connected);
  EXPECT_NE(st.last_error.find("Connection refused"), std::string::npos) << st.last_error;
  EXPECT_EQ(st.sent, 0u);
  EXPECT_EQ(stored_position(), "0");
  // Logged once for the whole outage, as JSON, naming the target only.
  auto lines = log_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"event\":\"syslog-forward-failed\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("tcp://127.0.0.1:" + std::to_string(port)), std::string::npos);

  Receiver rx(port);
  ASSERT_TRUE(eventually([&] { return rx.messages().size() >= 10; }));
  EXPECT_EQ(seqs(rx.messages()), range(1, 10));
  ASSERT_TRUE(eventually([&] { return log_lines().size() == 2; }));
  EXPECT_NE(log_lines()[1].find("\"event\":\"syslog-forward-resumed\""), std::string::npos);
  EXPECT_TRUE(f->stats().connected);
}

TEST_F(ForwarderTest, ConnectionClosedByTheCollectorIsReopenedWithoutLoss) {
  std::vector<uint64_t> got;
  {
    Receiver rx;
    const uint16_t port = rx.port();
    auto f = start(options(port));
    append(10);
    ASSERT_TRUE(eventually([&] { return rx.messages().size() >= 10; }));
    rx.drop_connections();
    ASSERT_TRUE(eventually([&] { return !f->stats().connected || f->stats().connects >= 2; }));
    append(10);
    f->notify();
    ASSERT_TRUE(eventually([&] { return f->stats().position >= 20 && rx.connections() >= 2; }));
    ASSERT_TRUE(eventually([&] { return seqs(rx.messages()).back() == 20; }));
    got = seqs(rx.messages());
  }
  // Every entry arrived, in order within each connection; the last batch
  // before the loss may come twice (the collector deduplicates by seq).
  std::vector<uint64_t> unique_sorted = got;
  std::sort(unique_sorted.begin(), unique_sorted.end());
  unique_sorted.erase(std::unique(unique_sorted.begin(), unique_sorted.end()), unique_sorted.end());
  EXPECT_EQ(unique_sorted, range(1, 20));
  EXPECT_LE(got.size(), 20u + 7u);
}

TEST_F(ForwarderTest, CollectorThatNeverReadsDoesNotBlockTheLog) {
  // A listener that accepts (kernel backlog) but never reads: writes stall
  // once the socket buffers are full, the forwarder times out, and appends
  // go on at their own pace meanwhile.
  asio::io_context io;
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto o = options(silent.local_endpoint().port());
  o.io_timeout = 300ms;
  o.batch = 256;
  auto f = start(o);
  // Entries with long values, to fill the socket buffers quickly.
  {
    std::vector<Entry> big;
    for (int i = 0; i < 5000; ++i) {
      Entry e = known_entry();
      e.user = std::string(600, 'u');
      e.address = std::string(600, 'a');
      e.workstation = std::string(600, 'w');
      big.push_back(std::move(e));
    }
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(log_->add(**txn, std::move(big)).ok());
    const bool committed = (*txn)->commit().ok();
    log_->after_commit(committed);
    ASSERT_TRUE(committed);
  }
  f->notify();
  ASSERT_TRUE(eventually([&] { return f->stats().failures >= 1; }));
  EXPECT_NE(f->stats().last_error.find("timed out"), std::string::npos) << f->stats().last_error;
  EXPECT_LT(f->stats().position, 5000u);
  // While the forwarder is stuck, a durable append takes its usual time.
  const auto t0 = std::chrono::steady_clock::now();
  append(3);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST_F(ForwarderTest, TlsToAPlainCollectorFailsTheHandshake) {
  Receiver rx;
  auto o = options(rx.port());
  o.url = "tls://127.0.0.1:" + std::to_string(rx.port());
  o.io_timeout = 500ms;
  auto f = start(o);
  append(1);
  ASSERT_TRUE(eventually([&] { return f->stats().failures >= 1; }));
  EXPECT_EQ(f->stats().sent, 0u);
  EXPECT_FALSE(f->stats().last_error.empty());
}

TEST_F(ForwarderTest, RefusesBadOptions) {
  auto o = options(1);
  o.ca_file = "/etc/ssl/certs/ca-certificates.crt";  // CA for a plain tcp target
  auto f = SyslogForwarder::start(*log_, *store_, o);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, Errc::invalid);
  o.url = "tls://127.0.0.1:1";
  o.ca_file = (dir_ / "missing.pem").string();
  f = SyslogForwarder::start(*log_, *store_, o);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, Errc::invalid);
  o.url = "udp://127.0.0.1:1";
  o.ca_file.clear();
  f = SyslogForwarder::start(*log_, *store_, o);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, Errc::invalid);
  EXPECT_EQ(stored_position(), "");  // nothing stored for a refused start
}

TEST_F(ForwarderTest, GarbageStoredPositionIsAnError) {
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_meta(std::string(kSyslogPositionKey), "12x").ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  auto f = SyslogForwarder::start(*log_, *store_, options(1));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, Errc::integrity);
}

TEST_F(ForwarderTest, PositionPastTheEndOfTheLogRestartsAtItsEnd) {
  append(3);
  {
    auto txn = store_->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_meta(std::string(kSyslogPositionKey), "1000").ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }
  Receiver rx;
  auto f = start(options(rx.port()));
  append(2);
  ASSERT_TRUE(eventually([&] { return rx.messages().size() >= 2; }));
  EXPECT_EQ(seqs(rx.messages()), range(4, 5));
}

}  // namespace
}  // namespace medvault::audit
