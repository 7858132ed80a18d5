#include "audit/syslog_forwarder.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "common/clock.h"

namespace medvault::audit {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

// Keeps a message below the 8 KiB RFC 5425 asks receivers to accept, whatever
// the entry holds (its values are ids and codes: far shorter in practice).
constexpr size_t kMaxValue = 512;
constexpr size_t kMaxSummaryField = 64;
constexpr int kFacilityAuthpriv = 10;
constexpr int kAlert = 1, kErr = 3, kWarning = 4, kNotice = 5;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
// 9999-12-31T23:59:59.999Z + 1 ms: RFC 3339 years have four digits.
constexpr int64_t kYear10000Ms = 253402300800000;

unsigned char byte(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), 0 if there is none.
size_t utf8_len(std::string_view s, size_t i) {
  const unsigned char c = byte(s, i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) n = 3;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else return 0;
  if (i + n > s.size() || byte(s, i + 1) < lo || byte(s, i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((byte(s, i + k) & 0xC0) != 0x80) return 0;
  return n;
}

// PARAM-VALUE: valid UTF-8 without control characters (each ill-formed
// sequence or control character becomes U+FFFD, so no value can break a line
// in the collector's files), '"', '\' and ']' escaped (RFC 5424 6.3.3), and
// at most kMaxValue bytes so escaped, cut at a character boundary.
void append_param(std::string& out, std::string_view name, std::string_view v) {
  std::string esc;
  size_t fits = 0;  // a prefix of esc of whole characters that leaves room for "..."
  for (size_t i = 0; i < v.size() && esc.size() <= kMaxValue;) {
    const size_t n = utf8_len(v, i);
    const unsigned char c = byte(v, i);
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7F))) {
      esc += kReplacement;
    } else {
      if (c == '"' || c == '\\' || c == ']') esc += '\\';
      esc.append(v.substr(i, n));
    }
    i += n ? n : 1;
    if (esc.size() <= kMaxValue - 3) fits = esc.size();
  }
  if (esc.size() > kMaxValue) {
    esc.resize(fits);
    esc += "...";
  }
  out += ' ';
  out += name;
  out += "=\"";
  out += esc;
  out += '"';
}

// The free-form MSG part stays printable ASCII (MSG-ANY without a BOM), so
// any collector shows it as it is; the exact values are in the SD-PARAMs.
std::string ascii(std::string_view v) {
  std::string s;
  for (size_t i = 0; i < v.size() && s.size() <= kMaxSummaryField; ++i)
    s += byte(v, i) >= 0x20 && byte(v, i) < 0x7F ? v[i] : '?';
  if (s.size() > kMaxSummaryField) {
    s.resize(kMaxSummaryField - 3);
    s += "...";
  }
  return s;
}

// HOSTNAME / PROCID: 1*N PRINTUSASCII, else the NILVALUE.
std::string header_field(std::string_view v, size_t max) {
  std::string s;
  for (size_t i = 0; i < v.size() && s.size() < max; ++i)
    s += byte(v, i) > 0x20 && byte(v, i) < 0x7F ? v[i] : '_';
  return s.empty() ? "-" : s;
}

std::string_view outcome_word(std::string_view outcome) {
  if (outcome == "0") return "success";
  if (outcome == "4") return "minor failure";
  if (outcome == "8") return "serious failure";
  if (outcome == "12") return "major failure";
  return "";
}

int severity(const Entry& e) {
  if (e.flagged) return kAlert;
  if (e.outcome == "8" || e.outcome == "12") return kErr;
  if (e.outcome == "4") return kWarning;
  return kNotice;
}

std::string target_text(const SyslogTarget& t) {
  const bool v6 = t.host.find(':') != std::string::npos;
  return std::string(t.tls ? "tls://" : "tcp://") + (v6 ? "[" + t.host + "]" : t.host) + ":" +
         std::to_string(t.port);
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

Result<SyslogTarget> parse_syslog_url(std::string_view url) {
  const auto bad = [] {
    return make_error(Errc::invalid, "syslog target must be tcp://HOST:PORT or tls://HOST:PORT");
  };
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return bad();
  SyslogTarget t;
  if (u->scheme() == "tls") t.tls = true;
  else if (u->scheme() != "tcp") return bad();
  if (u->has_userinfo() || u->has_query() || u->has_fragment() || !u->encoded_path().empty() ||
      u->encoded_host().empty())
    return bad();
  t.host = std::string(u->host_address());
  if (u->has_port()) {
    if (u->port_number() == 0) return bad();  // also an out-of-range port
    t.port = u->port_number();
  } else {
    t.port = t.tls ? 6514 : 514;
  }
  return t;
}

std::string format_syslog(uint64_t seq, const Entry& e, std::string_view hostname,
                          std::string_view procid) {
  std::string out = "<" + std::to_string(kFacilityAuthpriv * 8 + severity(e)) + ">1 ";
  out += e.time_ms >= 0 && e.time_ms < kYear10000Ms ? format_instant(e.time_ms) : "-";
  out += ' ';
  out += header_field(hostname, 255);
  out += " medvault ";
  out += header_field(procid, 128);
  out += " audit [medvault@32473";
  append_param(out, "seq", std::to_string(seq));
  append_param(out, "user", e.user);
  append_param(out, "role", e.role);
  append_param(out, "action", e.action);
  append_param(out, "type", e.type);
  append_param(out, "id", e.id);
  append_param(out, "patient", e.patient);
  append_param(out, "purpose", e.purpose);
  append_param(out, "outcome", e.outcome);
  append_param(out, "address", e.address);
  append_param(out, "workstation", e.workstation);
  append_param(out, "flagged", e.flagged ? "true" : "false");
  out += "] ";
  // e.g. "alice (physician) read Patient/p1 of patient p1: success"
  if (e.flagged) out += "break-the-glass: ";
  out += ascii(e.user) + " (" + ascii(e.role) + ") " + ascii(e.action);
  if (!e.type.empty()) out += " " + ascii(e.type) + (e.id.empty() ? "" : "/" + ascii(e.id));
  if (!e.patient.empty()) out += " of patient " + ascii(e.patient);
  const auto word = outcome_word(e.outcome);
  out += ": ";
  out += word.empty() ? "outcome " + ascii(e.outcome) : std::string(word);
  return out;
}

std::string frame_syslog(std::string_view msg) {
  std::string out = std::to_string(msg.size());
  out += ' ';
  out += msg;
  return out;
}

struct SyslogForwarder::Impl {
  Impl(Log& log, store::Store& store, SyslogOptions opt, SyslogTarget target,
       std::optional<asio::ssl::context> ctx, uint64_t position)
      : log_(log), store_(store), opt_(std::move(opt)), target_(std::move(target)),
        ssl_ctx_(std::move(ctx)), pos_(position) {
    std::array<char, 256> host{};
    if (opt_.hostname.empty() && ::gethostname(host.data(), host.size() - 1) == 0)
      opt_.hostname = host.data();
    procid_ = std::to_string(::getpid());
    stats_.position = pos_;
  }

  void run();
  Status connect();
  void drop();
  void arm_watch();
  Result<bool> send_batch();
  Status save_position();
  // Runs the I/O context until the operation `start` began completes, the
  // deadline passes or a stop is asked; in the two latter cases `cancel`
  // aborts it. Returns the operation's error (timed_out on the deadline).
  error_code await(const std::function<void(std::function<void(error_code)>)>& start,
                   const std::function<void()>& cancel, steady::time_point deadline);
  void failed(const std::string& error);
  void recovered();
  void event(std::string_view level, std::string_view name, boost::json::object fields);
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *tcp_; }

  Log& log_;
  store::Store& store_;
  SyslogOptions opt_;
  const SyslogTarget target_;
  std::optional<asio::ssl::context> ssl_ctx_;
  std::string procid_;

  // Forwarder thread only.
  asio::io_context io_;
  std::unique_ptr<tcp::socket> tcp_;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
  bool alive_ = false;       // connected, and the collector has not closed
  uint64_t generation_ = 0;  // of the connection, so a stale watch is ignored
  std::array<char, 512> watch_buf_{};
  uint64_t pos_ = 0;         // last seq written
  uint64_t resend_from_ = 0; // first seq of the last batch written on this connection
  bool outage_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  std::atomic<bool> stopping_{false};

  mutable std::mutex stats_mu_;
  SyslogStats stats_;

  std::thread thread_;
};

void SyslogForwarder::Impl::event(std::string_view level, std::string_view name,
                                  boost::json::object fields) {
  boost::json::object line;
  line["ts"] = format_instant(SystemClock::instance().now_ms());
  line["level"] = level;
  line["event"] = name;
  line["target"] = target_text(target_);
  for (auto& kv : fields) line[kv.key()] = std::move(kv.value());
  const std::string text = boost::json::serialize(line);
  if (opt_.log) {
    opt_.log(text);
  } else {
    const std::string with_nl = text + "\n";
    std::fwrite(with_nl.data(), 1, with_nl.size(), stderr);
  }
}

// Logged once per outage; counted every time.
void SyslogForwarder::Impl::failed(const std::string& error) {
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.failures;
    stats_.last_error = error;
    stats_.connected = alive_;
  }
  if (outage_) return;
  outage_ = true;
  event("warn", "syslog-forward-failed", {{"error", error}});
}

void SyslogForwarder::Impl::recovered() {
  if (!outage_) return;
  outage_ = false;
  uint64_t failures = 0;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    failures = stats_.failures;
  }
  event("info", "syslog-forward-resumed", {{"position", pos_}, {"failures", failures}});
}

error_code SyslogForwarder::Impl::await(
    const std::function<void(std::function<void(error_code)>)>& start,
    const std::function<void()>& cancel, steady::time_point deadline) {
  std::optional<error_code> result;
  bool timed_out = false;
  io_.restart();
  start([&result](error_code ec) { result = ec; });
  while (!result) {
    if (stopping_ || steady::now() >= deadline) {
      timed_out = !stopping_;
      cancel();
      while (!result) io_.run_one();  // the cancelled operation completes at once
      break;
    }
    io_.run_one_for(std::min<steady::duration>(deadline - steady::now(), std::chrono::milliseconds(100)));
  }
  if (timed_out) return asio::error::timed_out;
  return *result;
}

// Closes the connection and runs the cancelled handlers, which refer to the
// streams, before the streams are destroyed.
void SyslogForwarder::Impl::drop() {
  error_code ignored;
  if (tcp_ || tls_) socket().close(ignored);
  alive_ = false;
  ++generation_;
  io_.restart();
  while (io_.poll() > 0) {
  }
  tls_.reset();
  tcp_.reset();
}

// The collector never sends application data (RFC 6587, RFC 5425): a read
// that completes with an error means it closed the connection, which is
// then known before the next batch is written into it.
void SyslogForwarder::Impl::arm_watch() {
  auto on_read = [this, gen = generation_](error_code ec, size_t) {
    if (gen != generation_) return;
    if (ec) alive_ = false;
    else arm_watch();
  };
  if (tls_) tls_->async_read_some(asio::buffer(watch_buf_), on_read);
  else tcp_->async_read_some(asio::buffer(watch_buf_), on_read);
}

Status SyslogForwarder::Impl::connect() {
  drop();
  const auto deadline = steady::now() + opt_.io_timeout;
  const auto lost = [&](std::string_view step, const error_code& ec) {
    drop();
    return make_error(Errc::unavailable,
                      std::string(step) + " " + target_text(target_) + ": " + ec.message());
  };
  error_code ignored;
  tcp::resolver resolver(io_);
  tcp::resolver::results_type endpoints;
  error_code ec = await(
      [&](auto done) {
        resolver.async_resolve(target_.host, std::to_string(target_.port),
                               [&endpoints, done](error_code e, tcp::resolver::results_type r) {
                                 endpoints = std::move(r);
                                 done(e);
                               });
      },
      [&] { resolver.cancel(); }, deadline);
  if (ec) return lost("resolve", ec);

  if (target_.tls) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(io_, *ssl_ctx_);
    SSL* ssl = tls_->native_handle();
    // OpenSSL checks the name during the handshake (RFC 6125: SAN only, no
    // partial wildcards); an IP literal must be an IP SAN.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const bool ip = is_ip_literal(target_.host);
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, target_.host.c_str())
                       : SSL_set1_host(ssl, target_.host.c_str());
    if (set != 1 || (!ip && SSL_set_tlsext_host_name(ssl, target_.host.c_str()) != 1)) {
      drop();
      return make_error(Errc::internal, "cannot set the syslog collector's name for TLS");
    }
    tls_->set_verify_mode(asio::ssl::verify_peer);
  } else {
    tcp_ = std::make_unique<tcp::socket>(io_);
  }
  ec = await(
      [&](auto done) {
        asio::async_connect(socket(), endpoints, [done](error_code e, const tcp::endpoint&) { done(e); });
      },
      [&] { socket().close(ignored); }, deadline);
  if (ec) return lost("connect to", ec);
  socket().set_option(tcp::no_delay(true), ignored);
  if (tls_) {
    ec = await([&](auto done) { tls_->async_handshake(asio::ssl::stream_base::client, done); },
               [&] { socket().close(ignored); }, deadline);
    if (ec) {
      const long verify = SSL_get_verify_result(tls_->native_handle());
      if (verify != X509_V_OK) {
        drop();
        return make_error(Errc::unavailable, "TLS with " + target_text(target_) +
                                                 ": certificate not accepted: " +
                                                 X509_verify_cert_error_string(verify));
      }
      return lost("TLS handshake with", ec);
    }
  }
  alive_ = true;
  resend_from_ = 0;
  arm_watch();
  std::lock_guard<std::mutex> lock(stats_mu_);
  ++stats_.connects;
  stats_.connected = true;
  return ok_status();
}

Status SyslogForwarder::Impl::save_position() {
  MV_ASSIGN(auto txn, store_.begin());
  MV_TRY(txn->put_meta(std::string(kSyslogPositionKey), std::to_string(pos_)));
  return txn->commit();
}

Result<bool> SyslogForwarder::Impl::send_batch() {
  std::string buf;
  size_t n = 0;
  uint64_t first = 0, last = pos_;
  MV_TRY(log_.for_each(pos_ + 1, [&](uint64_t seq, const Entry& e) {
    if (n == 0) first = seq;
    buf += frame_syslog(format_syslog(seq, e, opt_.hostname, procid_));
    last = seq;
    return ++n < opt_.batch;
  }));
  io_.restart();
  io_.poll();  // a closed connection shows here, before anything is written into it
  if (!alive_) return make_error(Errc::unavailable, "connection to " + target_text(target_) + " closed by the collector");
  if (n == 0) return false;
  error_code ignored;
  const error_code ec = await(
      [&](auto done) {
        const auto written = [done](error_code e, size_t) { done(e); };
        if (tls_) asio::async_write(*tls_, asio::buffer(buf), written);
        else asio::async_write(*tcp_, asio::buffer(buf), written);
      },
      [&] { socket().close(ignored); }, steady::now() + opt_.io_timeout);
  if (ec) return make_error(Errc::unavailable, "send to " + target_text(target_) + ": " + ec.message());
  resend_from_ = first;
  pos_ = last;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.sent += n;
    stats_.position = pos_;
  }
  MV_TRY(save_position());
  return n == opt_.batch;
}

void SyslogForwarder::Impl::run() {
  auto backoff = opt_.backoff_initial;
  auto next_attempt = steady::now();
  const auto wait = [&](std::optional<steady::time_point> until) {
    std::unique_lock<std::mutex> lock(mu_);
    if (until) {
      cv_.wait_until(lock, *until, [&] { return stopping_.load(); });
    } else {
      cv_.wait_for(lock, opt_.poll_interval, [&] { return notified_ || stopping_; });
      notified_ = false;
    }
  };
  const auto retry_later = [&] {
    next_attempt = steady::now() + backoff;
    backoff = std::min(backoff * 2, opt_.backoff_max);
  };
  while (!stopping_) {
    if (!alive_) {
      if (steady::now() < next_attempt) {
        wait(next_attempt);
        continue;
      }
      const Status st = connect();
      if (stopping_) break;
      if (!st.ok()) {
        failed(st.error().message);
        retry_later();
        continue;
      }
      backoff = opt_.backoff_initial;
    }
    auto more = send_batch();
    if (stopping_) break;
    if (more.ok()) {
      recovered();
      if (!*more) wait(std::nullopt);
    } else if (more.error().code == Errc::unavailable) {
      drop();
      // What the collector had not read yet when the connection went down
      // is lost with it: send the last batch again (seq tells duplicates).
      if (resend_from_ != 0) pos_ = std::min(pos_, resend_from_ - 1);
      resend_from_ = 0;
      failed(more.error().message);
      retry_later();
    } else {
      // Reading the log or storing the position failed: try again at the
      // next poll (the position in the store only ever lags).
      failed(more.error().message);
      wait(std::nullopt);
    }
  }
  drop();
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.connected = false;
}

Result<std::unique_ptr<SyslogForwarder>> SyslogForwarder::start(Log& log, store::Store& store,
                                                                SyslogOptions options) {
  MV_ASSIGN(auto target, parse_syslog_url(options.url));
  if (!target.tls && !options.ca_file.empty())
    return make_error(Errc::invalid, "a syslog CA file is only for tls:// targets");
  if (options.batch == 0 || options.poll_interval.count() <= 0 ||
      options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial ||
      options.io_timeout.count() <= 0)
    return make_error(Errc::invalid, "bad syslog forwarder timing or batch options");
  std::optional<asio::ssl::context> ctx;
  if (target.tls) {
    try {
      ctx.emplace(asio::ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
      if (options.ca_file.empty()) ctx->set_default_verify_paths();
      else ctx->load_verify_file(options.ca_file);
      ctx->set_verify_mode(asio::ssl::verify_peer);
    } catch (const boost::system::system_error&) {
      return make_error(Errc::invalid, "cannot load the syslog CA certificates from " +
                                           (options.ca_file.empty() ? std::string("the system store")
                                                                    : options.ca_file));
    }
  }

  MV_ASSIGN(auto stored, store.meta(std::string(kSyslogPositionKey)));
  MV_ASSIGN(const uint64_t size, store.audit_size());
  uint64_t position = options.from_start ? 0 : size;
  if (stored) {
    const char* end = stored->data() + stored->size();
    auto [p, ec] = std::from_chars(stored->data(), end, position);
    if (ec != std::errc() || p != end || stored->empty())
      return make_error(Errc::integrity, "the stored syslog position is not a number");
    // A position past the end: the log was replaced (restored from an older
    // backup); forward what it holds from its end.
    position = std::min(position, size);
  }
  auto impl = std::make_unique<Impl>(log, store, std::move(options), std::move(target),
                                     std::move(ctx), position);
  // Stored at once, so that entries appended from now on are forwarded even
  // if the server stops before the first batch.
  if (!stored) MV_TRY(impl->save_position());
  Impl* raw = impl.get();
  raw->thread_ = std::thread([raw] { raw->run(); });
  return std::unique_ptr<SyslogForwarder>(new SyslogForwarder(std::move(impl)));
}

SyslogForwarder::SyslogForwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SyslogForwarder::~SyslogForwarder() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    impl_->stopping_ = true;
  }
  impl_->cv_.notify_all();
  if (impl_->thread_.joinable()) impl_->thread_.join();
}

void SyslogForwarder::notify() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    impl_->notified_ = true;
  }
  impl_->cv_.notify_all();
}

SyslogStats SyslogForwarder::stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu_);
  return impl_->stats_;
}

}  // namespace medvault::audit
