// Forwards the audit log to the practice's syslog collector: one RFC 5424
// message per entry, octet-counted (RFC 6587 3.4.1, RFC 5425 over TLS), over
// plain TCP or TLS 1.2+. Format and guarantees: docs/formats/audit.md,
// section 8.
//
// The forwarder follows the stored log from a background thread of its own:
// it never takes part in an append, so a slow, unreachable or hostile
// collector cannot slow or block the audit log or the requests. Delivery is
// at least once: the last forwarded sequence number is kept in the store's
// meta table ("syslog.forwarded") after every sent batch, forwarding resumes
// there after a restart or a reconnection, and the last batch written before
// a connection was lost is written again; every message carries its seq so
// the collector can drop duplicates.
//
// Messages hold codes and internal ids only (never names, free text or the
// encrypted detail), like the entries themselves.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "audit/entry.h"
#include "audit/log.h"
#include "common/result.h"
#include "store/store.h"

namespace medvault::audit {

// The store meta key holding the last forwarded sequence number (decimal).
inline constexpr std::string_view kSyslogPositionKey = "syslog.forwarded";

struct SyslogTarget {
  bool tls = false;
  std::string host;  // DNS name or IP literal (IPv6 without brackets)
  uint16_t port = 0;
};

// "tcp://HOST[:PORT]" (default port 514) or "tls://HOST[:PORT]" (default
// 6514, RFC 5425). Errc::invalid for anything else (user info, path, query).
Result<SyslogTarget> parse_syslog_url(std::string_view url);

struct SyslogOptions {
  std::string url;         // parse_syslog_url
  std::string ca_file;     // tls: PEM CA certificates the collector's chain must end at
                           // (empty: the system's trust store); tcp: must be empty
  std::string hostname;    // HOSTNAME field; empty: gethostname()
  bool from_start = false; // no stored position yet: forward the whole log,
                           // else start at its current end (no flood of history)
  std::chrono::milliseconds poll_interval{200};  // new entries are looked for this often (and on notify())
  std::chrono::milliseconds backoff_initial{1000};  // reconnect delay, doubled per failure ...
  std::chrono::milliseconds backoff_max{30000};     // ... up to this
  std::chrono::milliseconds io_timeout{10000};      // resolve + connect + handshake, and each batch write
  size_t batch = 256;      // entries per write (and per stored position)
  // Receives the forwarder's own events, one JSON object per line without
  // the newline (no patient data: target, error text, counts). Called from
  // the forwarder's thread. Default: written to stderr.
  std::function<void(std::string_view line)> log;
};

struct SyslogStats {
  uint64_t sent = 0;        // messages written (a re-sent one counts again)
  uint64_t position = 0;    // last sequence number written to the collector
  uint64_t connects = 0;    // connections established
  uint64_t failures = 0;    // failed connection attempts, lost connections, failed log reads
  bool connected = false;
  std::string last_error;   // the latest failure, "" if none yet
};

// One entry as an RFC 5424 message (without framing):
//   <PRI>1 TIMESTAMP HOSTNAME medvault PROCID audit [medvault@32473 seq="N" ...] SUMMARY
// Facility authpriv; severity alert for a flagged entry (break-the-glass),
// else err for outcome 8 or 12, warning for 4, notice otherwise. Values
// are escaped per RFC 5424 6.3.3, made valid UTF-8 without control
// characters and cut to 512 bytes; the summary is printable ASCII.
// Deterministic: the same arguments always give the same bytes.
std::string format_syslog(uint64_t seq, const Entry& e, std::string_view hostname,
                          std::string_view procid);

// Octet-counting framing: "<decimal length of msg> <msg>".
std::string frame_syslog(std::string_view msg);

class SyslogForwarder {
 public:
  // Reads the stored position (or starts one, see from_start), checks the
  // options and starts the thread; connecting happens there (an unreachable
  // collector is not an error here). Errc::invalid for a bad URL or an
  // unreadable CA file, Errc::integrity for an unreadable stored position.
  // REQUIRES: log and store outlive the forwarder.
  static Result<std::unique_ptr<SyslogForwarder>> start(Log& log, store::Store& store,
                                                        SyslogOptions options);
  // Stops the thread (within about a tenth of a second, or the end of a
  // resolve in progress); entries not yet sent go at the next start.
  ~SyslogForwarder();
  SyslogForwarder(const SyslogForwarder&) = delete;
  SyslogForwarder& operator=(const SyslogForwarder&) = delete;

  // Looks for new entries now rather than at the next poll. Thread-safe,
  // never blocks.
  void notify();
  SyslogStats stats() const;

 private:
  struct Impl;
  explicit SyslogForwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace medvault::audit
