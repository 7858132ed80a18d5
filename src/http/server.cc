// The listener and the connections: TLS, HTTP/1.1 keep-alive, limits and
// timeouts. The only file that includes Beast.
//
// Each connection is a Session on its own strand; the io_context runs on N
// threads. Timeouts: the TLS handshake and the first request's headers must
// complete within header_timeout_s (a slow client cannot hold a connection
// open by trickling bytes); a keep-alive connection may wait idle_timeout_s
// for its next request, and a body must arrive within idle_timeout_s.
// Handlers run synchronously on the I/O thread (repository calls are short
// SQLite calls); the other threads keep serving other connections.
#include "http/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/object.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "http/api.h"
#include "http/log.h"
#include "http/metrics.h"
#include "http/outcome.h"
#include "http/tls.h"

namespace medvault::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// State shared by the listener and every session; outlives the io_context.
struct Shared {
  ServeOptions opts;
  Metrics metrics;
  std::unique_ptr<Api> api;
  ssl::context tls{ssl::context::tls_server};
  std::atomic<size_t> connections{0};
  audit::Log* audit = nullptr;         // reads' entries are appended here, asynchronously
  std::atomic<size_t> held_answers{0};  // answers waiting for their audit entries

  // Client-certificate trust (mutual TLS), replaced whole on SIGHUP; each
  // connection takes the current one before its handshake.
  std::shared_ptr<const ClientTrust> client_trust() const {
    std::lock_guard lock(trust_mu);
    return trust;
  }
  void set_client_trust(std::shared_ptr<const ClientTrust> t) {
    std::lock_guard lock(trust_mu);
    trust = std::move(t);
  }
  mutable std::mutex trust_mu;
  std::shared_ptr<const ClientTrust> trust;  // guarded by trust_mu
};

// 128-bit request id, hex. Not a secret: unique enough to correlate logs.
std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) id[half * 16 + i] = kHex[v & 0xf];
  }
  return id;
}

// The session cookie's value in a Cookie header ("a=b; __Host-mv_session=v").
std::string session_cookie(std::string_view header) {
  static constexpr std::string_view kName = "__Host-mv_session=";
  while (!header.empty()) {
    const size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.starts_with(kName)) return std::string(pair.substr(kName.size(), 128));
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return {};
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Shared& shared)
      : stream_(std::move(socket), shared.tls), sh_(shared) {
    sh_.connections.fetch_add(1);
    sh_.metrics.connection_opened();
    boost::system::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      address_ = ep.address().to_string();
      loopback_ = is_loopback(address_);
    }
    if (auto trust = sh_.client_trust()) trusted_ = apply_client_trust(stream_.native_handle(), *trust).ok();
  }
  ~Session() {
    sh_.connections.fetch_sub(1);
    sh_.metrics.connection_closed();
  }

  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::on_run, shared_from_this()));
  }

 private:
  void on_run() {
    if (!trusted_) return;  // the client trust could not be installed: close
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(sh_.opts.header_timeout_s));
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::on_handshake, shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return;  // failed or timed out: the socket closes with the session
    if (!sh_.opts.client_ca.empty()) client_cert_ = verified_peer_sha256(stream_.native_handle());
    do_read();
  }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(sh_.opts.max_header, UINT32_MAX)));
    parser_->body_limit(sh_.opts.max_body);
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::seconds(first_ ? sh_.opts.header_timeout_s : sh_.opts.idle_timeout_s));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, size_t) {
    start_ = Clock::now();
    if (ec) return on_read_error(ec);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(sh_.opts.idle_timeout_s));
    const auto& h = parser_->get();
    if (beast::iequals(h[bhttp::field::expect], "100-continue") && !parser_->is_done()) {
      continue_ = {bhttp::status::continue_, h.version()};
      return bhttp::async_write(stream_, continue_,
                                beast::bind_front_handler(&Session::on_continue, shared_from_this()));
    }
    read_body();
  }

  void on_continue(beast::error_code ec, size_t) {
    if (ec) return;
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  // A request that cannot be read: answer when it makes sense, then close.
  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::ssl::error::stream_truncated || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset)
      return;  // client gone or too slow: nothing to answer
    Errc code = Errc::invalid;
    std::string message = "malformed HTTP request";
    int status = 400;
    if (ec == bhttp::error::header_limit) {
      status = 431;
      message = "request header fields too large";
    } else if (ec == bhttp::error::body_limit) {
      code = Errc::too_large;
      status = 413;
      message = "request body larger than " + std::to_string(sh_.opts.max_body) + " bytes";
    }
    const std::string id = new_request_id();
    Response r = error_response(make_error(code, message), id);
    r.status = status;
    r.route = "unparsed";
    add_security_headers(r, id);
    linger_ = true;
    send(std::move(r), "other", id, /*keep_alive=*/false, 11);
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) return on_read_error(ec);
    auto msg = parser_->release();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.authorization = std::string(msg[bhttp::field::authorization]);
    req.content_type = std::string(msg[bhttp::field::content_type]);
    req.accept = std::string(msg[bhttp::field::accept]);
    req.if_match = std::string(msg[bhttp::field::if_match]);
    req.prefer = std::string(msg["Prefer"]);
    req.purpose_of_use = std::string(msg["X-Purpose-Of-Use"]);
    req.step_up = std::string(msg["X-Step-Up"]);
    req.host = std::string(msg[bhttp::field::host]);
    req.origin = std::string(msg[bhttp::field::origin]);
    req.csrf = std::string(msg["X-CSRF-Token"]);
    req.session_cookie = session_cookie(msg[bhttp::field::cookie]);
    req.client_cert_sha256 = client_cert_;
    req.body = std::move(msg.body());
    req.client_address = address_;
    req.client_loopback = loopback_;
    req.request_id = new_request_id();
    // HEAD: the headers a GET would get (RFC 9110 9.3.2), without the body.
    const bool head = msg.method() == bhttp::verb::head;
    if (head) req.method = "GET";
    req.hold_for_audit = sh_.audit != nullptr;
    Response r = sh_.api->handle(req);
    if (r.held_audit.empty() && !r.held_sync)
      return send(std::move(r), msg.method_string(), req.request_id, msg.keep_alive(), msg.version(), head);
    // The answer waits, without holding this thread, until the log's writer
    // has made its entries, and the write committed before them, durable
    // (group commit with every other request's).
    auto entries = std::move(r.held_audit);
    held_ = Held{std::move(r), std::string(msg.method_string()), req.request_id, msg.keep_alive(),
                 msg.version(), head};
    sh_.held_answers.fetch_add(1);
    sh_.audit->append_async(std::move(entries), [self = shared_from_this()](Status st) mutable {
      // The session moves into the posted handler: once posted, nothing on
      // the writer thread refers to it (serve() may then destroy the
      // io_context, and the handler with it).
      Shared& sh = self->sh_;
      auto ex = self->stream_.get_executor();
      net::post(ex, [self = std::move(self), st = std::move(st)]() mutable { self->on_audited(std::move(st)); });
      sh.held_answers.fetch_sub(1);
    });
  }

  void on_audited(Status st) {
    Held h = std::move(*held_);
    held_.reset();
    if (!st.ok()) {  // fail closed: nothing of the answer leaves
      const std::string route = h.response.route;
      h.response = error_response(make_error(Errc::unavailable, "audit log unavailable; request refused"),
                                  h.request_id);
      h.response.route = route;
      add_security_headers(h.response, h.request_id);
    }
    send(std::move(h.response), h.method, h.request_id, h.keep_alive, h.version, h.head);
  }

  void send(Response r, std::string_view method, const std::string& request_id, bool keep_alive,
            unsigned version, bool head = false) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    sh_.metrics.observe(method, r.route, r.status, seconds);
    log::request({{"event", "request"},
                                  {"method", method_label(method)},
                                  {"route", r.route},
                                  {"status", r.status},
                                  {"duration_us", static_cast<int64_t>(seconds * 1e6)},
                                  {"request_id", request_id}});
    res_ = {};
    res_.version(version == 10 ? 10 : 11);
    res_.result(static_cast<unsigned>(r.status));
    for (auto& [name, value] : r.headers) res_.set(name, value);
    res_.keep_alive(keep_alive);
    if (head) {
      res_.content_length(r.body.size());
    } else {
      res_.body() = std::move(r.body);
      res_.prepare_payload();
    }
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(sh_.opts.idle_timeout_s));
    bhttp::async_write(stream_, res_,
                       beast::bind_front_handler(&Session::on_write, shared_from_this(), !keep_alive));
  }

  void on_write(bool close, beast::error_code ec, size_t) {
    if (ec) return;
    if (close) {
      if (!linger_) return do_shutdown();
      linger_deadline_ = Clock::now() + std::chrono::seconds(kLingerSeconds);
      return linger(beast::error_code(), 0);
    }
    first_ = false;
    do_read();
  }

  // After answering a request that was not read to its end (413, 431, 400),
  // read and discard what the client still sends, for a bounded time and
  // amount, before closing: closing with unread data makes TCP reset the
  // connection, and the client could lose the response before reading it.
  void linger(beast::error_code ec, size_t n) {
    lingered_ += n;
    const auto now = Clock::now();
    if (ec || lingered_ > sh_.opts.max_body || now >= linger_deadline_) return do_shutdown();
    beast::get_lowest_layer(stream_).expires_after(
        std::min<Clock::duration>(std::chrono::seconds(1), linger_deadline_ - now));
    stream_.async_read_some(net::buffer(discard_),
                            beast::bind_front_handler(&Session::linger, shared_from_this()));
  }

  void do_shutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown(beast::bind_front_handler(&Session::on_shutdown, shared_from_this()));
  }

  void on_shutdown(beast::error_code) {}  // the socket closes with the session

  beast::ssl_stream<beast::tcp_stream> stream_;
  Shared& sh_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::empty_body> continue_;
  bhttp::response<bhttp::string_body> res_;
  std::string address_ = "unknown";
  std::string client_cert_;  // verified client certificate's SHA-256, if any
  bool loopback_ = false;
  bool trusted_ = true;  // false: the client trust could not be installed
  bool first_ = true;
  Clock::time_point start_ = Clock::now();
  static constexpr int kLingerSeconds = 5;
  bool linger_ = false;
  size_t lingered_ = 0;
  Clock::time_point linger_deadline_;
  std::array<char, 16 * 1024> discard_;
  struct Held {
    Response response;
    std::string method;
    std::string request_id;
    bool keep_alive = false;
    unsigned version = 11;
    bool head = false;
  };
  std::optional<Held> held_;  // the answer waiting for its audit entries
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, tcp::acceptor acceptor, Shared& shared)
      : ioc_(ioc), acceptor_(std::move(acceptor)), sh_(shared) {}

  void start() { do_accept(); }
  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ec;
      self->acceptor_.close(ec);
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (sh_.connections.load() >= sh_.opts.max_connections) {
        sh_.metrics.connection_rejected();
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), sh_)->run();
      }
    }
    do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  Shared& sh_;
};

// rpId and origin from --public-url: https, a host name (no IP literal:
// WebAuthn refuses them as rpId), an optional port, no path.
Status public_origin(const std::string& url, vault::SessionSettings& s) {
  const Error bad = make_error(Errc::invalid, "--public-url must be https://HOST[:PORT] with a host name");
  if (!url.starts_with("https://") || url.size() > 300) return bad;
  std::string_view rest = std::string_view(url).substr(8);
  if (rest.ends_with("/")) rest.remove_suffix(1);
  const size_t colon = rest.find(':');
  const std::string_view host = rest.substr(0, colon);
  if (host.empty() || host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string_view::npos ||
      host.find_first_not_of("0123456789.") == std::string_view::npos)
    return bad;
  if (colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return bad;
  }
  s.rp_id = std::string(host);
  s.origin = "https://" + std::string(rest);
  return ok_status();
}

Result<tcp::endpoint> parse_listen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return make_error(Errc::invalid, "listen address must be HOST:PORT");
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535)
    return make_error(Errc::invalid, "invalid port in listen address");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code aec;
  auto address = net::ip::make_address(host, aec);
  if (aec) return make_error(Errc::invalid, "listen host must be an IP address or localhost");
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

}  // namespace

Status serve(vault::Vault& vault, const ServeOptions& opts, std::function<void(uint16_t)> on_listening) {
  try {
    MV_ASSIGN(const tcp::endpoint endpoint, parse_listen(opts.listen));
    Shared shared;
    shared.opts = opts;
    if (shared.opts.cert.empty()) shared.opts.cert = vault.dir() / "tls" / "cert.pem";
    if (shared.opts.key.empty()) shared.opts.key = vault.dir() / "tls" / "key.pem";
    MV_TRY(configure_server_tls(shared.tls.native_handle(), shared.opts.cert, shared.opts.key));
    if (!opts.client_ca.empty()) {
      MV_ASSIGN(auto trust, load_client_trust(opts.client_ca, opts.client_crl));
      MV_TRY(configure_client_verification(shared.tls.native_handle(), *trust));
      shared.set_client_trust(std::move(trust));
    } else if (!opts.client_crl.empty())
      return make_error(Errc::invalid, "a client CRL needs the client CA (--client-ca)");

    // Neither reads nor writes wait for the disk on an I/O thread (their
    // answers wait off-thread, see Session::on_read), so threads block only
    // on the store's writer lock: 2 per core. More cost CPU in wake-ups and
    // context switches (measured at 8 on 2 cores: +30 % per read).
    const unsigned threads = opts.threads > 0 ? static_cast<unsigned>(opts.threads)
                                              : 2 * std::max(1u, std::thread::hardware_concurrency());
    net::io_context ioc(static_cast<int>(threads));
    tcp::acceptor acceptor(ioc);
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return make_error(Errc::io, "cannot listen on " + opts.listen + ": " + ec.message());
    const uint16_t port = acceptor.local_endpoint().port();

    ApiOptions api_opts;
    api_opts.max_body = opts.max_body;
    const auto addr = endpoint.address();
    const std::string host = addr.is_unspecified() ? "localhost"
                             : addr.is_v6()        ? "[" + addr.to_string() + "]"
                                                   : addr.to_string();
    api_opts.default_host = host + ":" + std::to_string(port);
    vault::SessionSettings settings;
    MV_TRY(public_origin(opts.public_url.empty() ? "https://localhost:" + std::to_string(port) : opts.public_url,
                         settings));
    settings.idle_ms = opts.session_idle_s * 1000;
    settings.max_ms = opts.session_max_s * 1000;
    if (settings.idle_ms <= 0 || settings.max_ms <= 0)
      return make_error(Errc::invalid, "session timeouts must be positive");
    if (auto* sessions = vault.sessions()) sessions->configure(settings);
    api_opts.origin = settings.origin;
    shared.api = std::make_unique<Api>(vault, shared.metrics, std::move(api_opts));
    shared.audit = vault.audit_log();

    auto listener = std::make_shared<Listener>(ioc, std::move(acceptor), shared);
    listener->start();
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& sec, int) {
      if (sec) return;
      log::event(log::Level::info, {{"event", "stopping"}});
      listener->stop();
      ioc.stop();
    });

    // SIGHUP re-reads the client CA and CRL files (a new CRL after a card is
    // revoked); new connections use them, running ones keep theirs. A file
    // that does not load leaves the current trust in place.
    net::signal_set hup(ioc, SIGHUP);
    std::function<void()> on_hup = [&] {
      hup.async_wait([&](const boost::system::error_code& sec, int) {
        if (sec) return;
        if (!opts.client_ca.empty()) {
          auto trust = load_client_trust(opts.client_ca, opts.client_crl);
          if (trust) {
            shared.set_client_trust(std::move(trust).value());
            log::event(log::Level::info, {{"event", "client-trust-reloaded"}});
          } else {
            log::event(log::Level::error, {{"event", "client-trust-reload-failed"},
                                           {"error", std::string(error_info(trust.error().code).name)},
                                           {"detail", "kept the previous client CA and CRL: " + trust.error().message}});
          }
        }
        on_hup();
      });
    };
    on_hup();

    // Housekeeping: dead sessions, ceremonies, step-up tokens and old
    // guessing counters are deleted every purge_interval_s.
    net::steady_timer purge_timer(ioc);
    std::function<void()> schedule_purge = [&] {
      if (opts.purge_interval_s <= 0) return;
      purge_timer.expires_after(std::chrono::seconds(opts.purge_interval_s));
      purge_timer.async_wait([&](const boost::system::error_code& tec) {
        if (tec) return;
        if (auto* sessions = vault.sessions()) {
          auto n = sessions->purge();
          if (!n) {
            log::event(log::Level::warn, {{"event", "purge-failed"}, {"error", std::string(error_info(n.error().code).name)}});
          } else if (n->sessions + n->ceremonies + n->step_up_tokens + n->counters > 0) {
            log::event(log::Level::info, {{"event", "purged"}, {"sessions", n->sessions}, {"ceremonies", n->ceremonies},
                                          {"step_up_tokens", n->step_up_tokens}, {"counters", n->counters}});
          }
        }
        schedule_purge();
      });
    };
    schedule_purge();

    log::raw(R"({"event":"listening","port":)" + std::to_string(port) + "}");
    if (on_listening) on_listening(port);

    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    // Callbacks of appends still in flight post to this io_context: let them
    // finish before it goes away (their handlers are then never run).
    while (shared.held_answers.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    log::flush();
    return ok_status();
  } catch (const std::exception&) {
    return make_error(Errc::internal, "the HTTP server failed to start or stopped unexpectedly");
  }
}

}  // namespace medvault::http
