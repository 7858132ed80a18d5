// The backend-neutral storage interface (SQLite today, PostgreSQL next).
//
// The store only ever sees ciphertexts, blind-index tokens, logical ids,
// version numbers and timestamps of writes: it is below the encryption layer
// and never below the repository facade (vault/), which is the only code that
// uses it. Implementations must be safe to call from several threads; a
// Transaction is used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace medvault::store {

// One stored version of a resource.
struct VersionRow {
  std::string type;
  std::string id;
  uint64_t version = 0;
  uint64_t key_id = 0;        // data key the body is encrypted under
  int64_t last_updated_ms = 0;
  bool deleted = false;
  std::string compartment;    // patient logical id, or "" for shared resources
  std::string body;           // ciphertext (empty for a delete marker)
};

// A search-index token: the keyed blind index of (type, param, value).
struct IndexToken {
  std::string param;
  std::string token;  // 16 raw bytes
};

// A versioned key-encryption key, wrapped by the master-derived wrapping key.
struct KekRow {
  uint32_t version = 0;
  std::string wrapped;
  int64_t created_ms = 0;
};

// A per-patient (per-compartment) data key, wrapped by a KEK.
struct DekRow {
  uint64_t key_id = 0;
  std::string compartment;
  uint32_t kek_version = 0;
  std::string wrapped;
};

// One audit-log entry as stored: canonical entry bytes, RFC 9162 leaf hash and
// the MAC chain value (docs/formats.md, "audit log").
struct AuditRow {
  uint64_t seq = 0;  // 1-based, gap-free
  int64_t time_ms = 0;
  std::string patient;  // patient logical id or "" (for queries by patient)
  std::string user;     // account name or "" (for queries by user)
  std::string entry;    // canonical bytes
  std::string leaf_hash;  // 32 bytes
  std::string chain;      // 32 bytes
};

// An audit row seen in place, valid only during the visitor call: `audit
// verify` reads millions of rows and copies none of them.
struct AuditRowView {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string_view patient;
  std::string_view user;
  std::string_view entry;
  std::string_view leaf_hash;
  std::string_view chain;
};

// A signed checkpoint of the audit log (docs/formats/audit.md).
struct AuditCheckpointRow {
  uint64_t size = 0;      // number of entries it covers
  int64_t time_ms = 0;    // when it was signed
  std::string note;       // C2SP signed note, as issued
  std::string frontier;   // the tree's compact range at `size`: 32-byte hashes, concatenated
};

// A staff, patient or service account. `data` is a JSON document owned by the
// accounts service (scopes, disabled flag, credentials' hashes).
struct AccountRow {
  std::string username;
  std::string role;
  std::string data;
  int64_t created_ms = 0;
};

// A bearer token or session, stored only as a keyed hash.
struct TokenRow {
  std::string hash;      // 32 raw bytes
  std::string token_id;  // short public id for listing and revocation
  std::string username;
  std::string kind;      // "api" or "session"
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  int64_t last_used_ms = 0;
  bool revoked = false;
};

// AND across terms, OR within a term's tokens.
struct IndexTerm {
  std::string param;
  std::vector<std::string> tokens;
};

struct ScanFilter {
  std::string type;                   // required
  std::vector<IndexTerm> terms;       // empty: every current resource of type
  std::vector<std::string> ids;       // _id restriction (OR); empty: any
  std::optional<int64_t> updated_from_ms;  // inclusive
  std::optional<int64_t> updated_to_ms;    // exclusive
  bool newest_first = false;          // order by last_updated desc, else by id
};

// The meta key that changes with every account or token change (see
// Transaction::put_account).
inline constexpr const char* kAuthGeneration = "auth_generation";

class Transaction {
 public:
  virtual ~Transaction() = default;

  // Current (latest) version row of a resource, deleted or not, without body.
  virtual Result<std::optional<VersionRow>> current(const std::string& type,
                                                    const std::string& id) = 0;
  // Inserts a new version and makes it current. The caller has checked the
  // expected version with current(); the store still refuses (Errc::conflict)
  // a version that is not exactly current+1.
  virtual Status put_version(const VersionRow& row) = 0;
  // Replaces every index token of (type, id).
  virtual Status set_index(const std::string& type, const std::string& id,
                           const std::vector<IndexToken>& tokens) = 0;
  virtual Status put_kek(const KekRow& kek) = 0;
  virtual Status delete_kek(uint32_t version) = 0;
  // Inserts a DEK; key_id 0 asks the store to assign one (returned).
  virtual Result<uint64_t> put_dek(const DekRow& dek) = 0;
  virtual Status rewrap_dek(uint64_t key_id, uint32_t kek_version, const std::string& wrapped) = 0;
  virtual Status append_audit(const std::vector<AuditRow>& rows) = 0;
  virtual Status put_meta(const std::string& key, const std::string& value) = 0;
  // Deletes a meta pair; false if there was none. Under the one-writer lock
  // this is a test-and-delete: single-use values (sign-in ceremonies) are
  // consumed by exactly one transaction.
  virtual Result<bool> delete_meta(const std::string& key) = 0;
  // Inserts or replaces the sealed policy-facts summary of a patient
  // (vault/access_facts.h; an opaque cache the vault checks before use).
  virtual Status put_facts_summary(const std::string& patient, const std::string& sealed) = 0;
  // Stores a checkpoint; a row of the same size already stored is kept (the
  // first checkpoint of a size is evidence, never overwritten).
  virtual Status put_audit_checkpoint(const AuditCheckpointRow& row) = 0;
  // Every transaction that writes account or token rows (these four
  // methods) also gives meta kAuthGeneration a new random value: a cache
  // of verified credentials is valid while the value it saw is unchanged,
  // whichever process or node made the change.
  virtual Status put_account(const AccountRow& row) = 0;  // insert or replace
  virtual Status put_token(const TokenRow& row) = 0;      // insert or replace
  // Revokes the token with this id, or every token of `username` when
  // token_id is empty. Returns how many were revoked.
  virtual Result<uint64_t> revoke_tokens(const std::string& username,
                                         const std::string& token_id) = 0;
  // Deletes the session rows (kind "session" or "session-...") that can
  // never be used again: revoked, expired (expires_ms <= now_ms) or idle
  // (last_used_ms <= idle_before_ms). API tokens stay (administrators list
  // and revoke them). Returns how many rows were deleted.
  virtual Result<uint64_t> purge_sessions(int64_t now_ms, int64_t idle_before_ms) = 0;

  // Entries of committed changes that the log lost (an engine that keeps
  // its log apart from its data, SQLite, copies the entries of a small
  // change into the change itself; a power cut can keep the change and lose
  // the log's copy): removed from that copy and returned, oldest first, for
  // the log to append again (audit::Log::open). Empty on other engines.
  virtual Result<std::vector<AuditRow>> take_audit_orphans() { return std::vector<AuditRow>(); }

  // Makes every change durable (fsync). The writer lock is held until the
  // Transaction is destroyed, so the caller can finish bookkeeping that must
  // not interleave with the next writer (the audit head). Without commit(),
  // destruction rolls back.
  virtual Status commit() = 0;
  // Commits without waiting for the disk: the change is visible at once but
  // may be lost in a power cut until Store::sync() (or any later commit())
  // returns, so the caller acknowledges nothing before that. For a server
  // that waits off-thread. Engines whose COMMIT is durable just commit().
  virtual Status commit_unsynced() { return commit(); }
};

class ReadScope {
 public:
  virtual ~ReadScope() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // One writer at a time; begin() blocks until the previous transaction ends.
  virtual Result<std::unique_ptr<Transaction>> begin() = 0;
  // Returns once every transaction committed before the call is on disk
  // (SQLite: one fdatasync of the WAL, shared by concurrent callers).
  virtual Status sync() { return ok_status(); }
  // Until the returned object is destroyed, every read this thread makes
  // through the store shares one read transaction: one snapshot, one WAL
  // read lock and one page cache for a whole request (SQLite; nullptr, and
  // nothing changes, on other engines or inside another scope). Writes are
  // not affected, but reads in the scope do not see commits made after its
  // first read: for requests that do not read back what they write.
  virtual std::unique_ptr<ReadScope> read_scope() { return nullptr; }

  virtual Result<std::optional<VersionRow>> current(const std::string& type,
                                                    const std::string& id) = 0;
  virtual Result<std::optional<VersionRow>> version(const std::string& type,
                                                    const std::string& id, uint64_t version) = 0;
  // History, newest first. Empty type: whole system; empty id: whole type.
  virtual Result<std::vector<VersionRow>> history(const std::string& type, const std::string& id,
                                                  std::optional<int64_t> since_ms,
                                                  size_t limit) = 0;
  // Current, non-deleted resources matching the filter, without bodies, in
  // the filter's order, handed to `fn` one at a time until it returns false.
  // The visitor may read the store meanwhile. On SQLite a filter with a
  // one-token term and id order streams from that term's index entries, so
  // a caller that stops after a page reads a page, however common the name
  // prefix (issue 8); PostgreSQL collects the matches first.
  virtual Status scan(const ScanFilter& filter, const std::function<bool(const VersionRow&)>& fn) = 0;
  // Every match at once.
  Result<std::vector<VersionRow>> scan(const ScanFilter& filter) {
    std::vector<VersionRow> out;
    MV_TRY(scan(filter, [&](const VersionRow& r) {
      out.push_back(r);
      return true;
    }));
    return out;
  }
  // Every current non-deleted resource of a compartment (for $everything),
  // or only those of the given types (the policy's fact sources), in (type,
  // id) order, without bodies.
  virtual Result<std::vector<VersionRow>> compartment(const std::string& patient,
                                                      std::span<const std::string_view> types) = 0;
  // Visits every current resource (for export), body included, in (type, id)
  // order; stops early if fn returns false.
  virtual Status for_each_current(const std::function<bool(const VersionRow&)>& fn) = 0;

  virtual Result<std::vector<KekRow>> keks() = 0;
  virtual Result<std::optional<DekRow>> dek(uint64_t key_id) = 0;
  virtual Result<std::optional<DekRow>> dek_for(const std::string& compartment) = 0;
  virtual Result<std::vector<DekRow>> deks() = 0;

  virtual Result<uint64_t> audit_size() = 0;
  virtual Result<std::vector<AuditRow>> audit_range(uint64_t first_seq, size_t count) = 0;
  // Queries, newest first, at most `limit` rows: the entries naming a
  // patient (the portal's "who saw my record"), an account's entries, and
  // the entries whose time is in [from_ms, to_ms) (breach assessment).
  virtual Result<std::vector<AuditRow>> audit_by_patient(const std::string& patient, size_t limit) = 0;
  virtual Result<std::vector<AuditRow>> audit_by_user(const std::string& user, size_t limit) = 0;
  virtual Result<std::vector<AuditRow>> audit_in_window(int64_t from_ms, int64_t to_ms, size_t limit) = 0;
  // Visits the rows with first_seq <= seq < first_seq + count in seq order,
  // in one read snapshot, without copying; stops early if fn returns false.
  virtual Status audit_scan(uint64_t first_seq, uint64_t count,
                            const std::function<bool(const AuditRowView&)>& fn) = 0;
  // Every checkpoint, by increasing size; the one with the largest size.
  virtual Result<std::vector<AuditCheckpointRow>> audit_checkpoints() = 0;
  virtual Result<std::optional<AuditCheckpointRow>> last_audit_checkpoint() = 0;
  // Whether Transaction::take_audit_orphans() would find any (a cheap read,
  // so that opening the log takes the writer lock only when it must).
  virtual Result<bool> has_audit_orphans() { return false; }

  virtual Result<std::optional<std::string>> meta(const std::string& key) = 0;
  // The sealed policy-facts summary of a patient, if one was stored. Not
  // copied by copy_all: a cache, rebuilt on demand.
  virtual Result<std::optional<std::string>> facts_summary(const std::string& patient) = 0;
  virtual Result<std::optional<AccountRow>> account(const std::string& username) = 0;
  virtual Result<std::vector<AccountRow>> accounts() = 0;
  virtual Result<std::optional<TokenRow>> token(const std::string& hash) = 0;
  virtual Result<uint64_t> count_current(const std::string& type) = 0;

  // Raw rows, for moving a vault from one engine to another (`medvault
  // migrate`, store::copy_all): every version of every resource with its
  // body, in (type, id, version) order; every index token in (type, id)
  // order; every token row; every meta pair. Visitors stop early on false.
  virtual Status for_each_version(const std::function<bool(const VersionRow&)>& fn) = 0;
  virtual Status for_each_index_token(
      const std::function<bool(const std::string& type, const std::string& id,
                               const IndexToken& token)>& fn) = 0;
  virtual Result<std::vector<TokenRow>> tokens() = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> metas() = 0;

  // The engine's own consistency check (PRAGMA integrity_check for SQLite).
  virtual Status integrity_check() = 0;
  // Checkpoints and truncates the write-ahead log (after key rotation, so no
  // retired wrapped key stays in the WAL).
  virtual Status compact() = 0;
  // A hint that large write transactions follow (an import): the SQLite
  // engine gives its writer a bigger page cache from then on. Engines
  // without a use for it ignore it.
  virtual void expect_bulk_writes() {}

  // A consistent copy of the whole store for backups (src/backup): the
  // engine's own image (SQLite: a database file) handed to `sink` in pieces
  // of at most 1 MiB as (offset in the image, bytes), all from one read
  // snapshot while writers go on; no temp file is written. The pieces cover
  // the image once, in ascending offset order, except that a head [0, h)
  // may come last, as one piece (SQLite's first page, whose header is
  // written at the end of the copy); the first piece's offset is h.
  // Returns the number of audit entries in the copy and the files that
  // belong to it beside the image (SQLite: the audit log's segments), each
  // to be copied as its first `bytes` bytes (they only grow: reading them
  // after the call gives the same bytes). An error from `sink` stops the
  // copy and is returned. Engines that cannot answer Errc::invalid.
  using SnapshotSink = std::function<Status(uint64_t offset, std::string_view bytes)>;
  struct SnapshotFile {
    std::string name;             // relative to the image's directory ("vault.db-audit/0000000000.log")
    std::filesystem::path path;   // where to read it
    uint64_t bytes = 0;
  };
  struct SnapshotInfo {
    uint64_t audit_entries = 0;
    std::vector<SnapshotFile> files;
  };
  virtual Result<SnapshotInfo> snapshot(const SnapshotSink& sink) {
    (void)sink;
    return make_error(Errc::invalid, "this storage engine cannot take a backup snapshot");
  }
};

// Opens (creating if needed) the SQLite store at `path`, applying pending
// schema migrations, with its audit log in the directory `<path>-audit`.
// WAL mode, secure_delete, temp_store in memory; commit() is durable.
Result<std::unique_ptr<Store>> open_sqlite(const std::filesystem::path& path);

// Connects to PostgreSQL (`conninfo`: a libpq URI `postgresql://...` or
// key=value string; it may list several hosts with
// target_session_attrs=read-write for failover) and applies pending schema
// migrations under an advisory lock, so nodes starting together do not race.
// Several processes ("nodes") may open one database: begin() takes a
// database-wide advisory lock, so there is exactly one writer Transaction at
// a time across all of them, as with SQLite's write lock. Errc::invalid for a
// malformed conninfo; Errc::unavailable when the server cannot be reached or a
// connection is lost (the next call reconnects).
Result<std::unique_ptr<Store>> open_postgres(const std::string& conninfo);

// Opens the store a location names: a `postgresql://` or `postgres://` URI
// is a PostgreSQL database, anything else the SQLite file at that path.
bool is_postgres_url(std::string_view location);

// Copies every row of `from` into `to`, which must be empty (Errc::conflict
// otherwise), in one transaction of `to`: all of it or nothing. Keys stay
// wrapped, bodies encrypted, audit rows and checkpoints byte for byte.
Status copy_all(Store& from, Store& to);

}  // namespace medvault::store
