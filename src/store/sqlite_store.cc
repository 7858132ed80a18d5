// The SQLite engine of the storage interface.
//
// One writer connection (behind writer_mu_, held for the life of a
// Transaction) and a pool of reader connections; in WAL mode readers never
// block the writer. Every connection caches its prepared statements.
//
// Durability: COMMIT runs with synchronous=NORMAL (no fsync while the writer
// lock is held); Transaction::commit then returns only once an fdatasync of
// the WAL file made after that COMMIT has completed (a GroupSync), so what a
// caller acknowledges survives power loss as with synchronous=FULL, while
// committers that arrive together share one fsync (group commit).
//
// The audit log is not in the database: its entries go to append-only
// segment files beside it (AuditFiles, audit_files.h), under the same writer
// lock, written at commit before COMMIT. No committed change may outlive its
// entries in a power cut (an entry may outlive a change that was never
// acknowledged). So a transaction that changed the database either
//  - copies its entries into the table audit_pending inside the change, if
//    it commits with commit_unsynced() (a FHIR write in the server, whose
//    answer waits for Store::sync) and has at most kOutboxMax entries: the
//    files become durable with everyone else's, outside the lock; if they
//    lose the entries, the log appends them again at open
//    (Transaction::take_audit_orphans); or
//  - syncs the files before COMMIT, under the lock (commit(): the command
//    line, imports, sign-ins; and any change that stores a signed
//    checkpoint, which must never cover entries the files could lose).
// A transaction that only appends entries (a group of reads) syncs them
// after releasing the lock, shared with everyone else's. A reader may see a
// commit before it is durable; whatever it sends out waits for its own
// audit entry, which is synced after that commit's entries.
//
// Checkpoints (copying the WAL back into the database file, with its two
// fsyncs) run on a background thread with its own connection (Checkpointer),
// not inside the COMMIT of whichever writer crosses the threshold.
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "store/audit_files.h"
#include "store/group_sync.h"
#include "store/sqlite_schema.h"
#include "store/store.h"

namespace medvault::store {
namespace {

Error db_error(sqlite3* db, const char* what) {
  std::string msg = std::string("database error (") + what + "): " + sqlite3_errmsg(db);
  return make_error(Errc::io, std::move(msg));
}

// A connection with its statement cache. Statements are keyed by the address
// of their SQL literal.
class Conn {
 public:
  static Result<std::unique_ptr<Conn>> open(const std::string& path, bool create) {
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = "cannot open database " + path + ": " +
                        (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
      sqlite3_close_v2(db);
      return make_error(Errc::io, msg);
    }
    auto c = std::unique_ptr<Conn>(new Conn(db));
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    // synchronous=NORMAL: COMMIT does not fsync; WalSync does, after it (see
    // the top of this file); checkpoints still sync the WAL before copying
    // it. secure_delete: freed pages (retired wrapped keys) are zeroed.
    // temp_store=MEMORY: no temp files.
    MV_TRY(c->exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;"
        "PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON;"));
    // Page cache: 8 MiB for each connection (one reader per server thread:
    // the kernel's page cache holds the file for all of them; measured RSS
    // 388 MiB under load at 1M resources with 64 MiB each). The writer gets
    // 64 MiB for an import (expect_bulk_writes): 20 % faster imports, but
    // each small commit walks the whole cache's hash table in
    // sqlite3PagerCommitPhaseTwo, 20 % more CPU per created resource.
    MV_TRY(c->exec("PRAGMA cache_size=-8192"));
    // No mmap: every read commits an audit entry, and after each commit
    // SQLite would unmap and remap the file (measured: ~1.7 ms per read).
    return c;
  }

  ~Conn() {
    for (auto& [k, st] : stmts_) sqlite3_finalize(st);
    for (auto& [k, st] : built_) sqlite3_finalize(st);
    sqlite3_close_v2(db_);
  }

  sqlite3* db() const { return db_; }

  Status exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = std::string("database error: ") + (err ? err : "unknown");
      sqlite3_free(err);
      return make_error(Errc::io, msg);
    }
    return ok_status();
  }

  // Runs a statement without results (BEGIN, COMMIT) from the cache: no
  // parse per transaction.
  Status run(const char* sql) {
    MV_ASSIGN(sqlite3_stmt * st, stmt(sql));
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return db_error(db_, sql);
    return ok_status();
  }

  // A cached statement, reset and with bindings cleared. A statement still
  // stepping is refused rather than reset under its caller: a visitor that
  // re-ran the query it is visiting, on a connection a read scope pinned.
  Result<sqlite3_stmt*> stmt(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return reuse(it->second);
    MV_ASSIGN(sqlite3_stmt * st, prepare(sql));
    stmts_.emplace(sql, st);
    return st;
  }

  // The same for SQL built at run time (a search's shape: how many terms and
  // tokens), keyed by its text; at most kMaxBuilt shapes are kept.
  Result<sqlite3_stmt*> built(const std::string& sql) {
    auto it = built_.find(sql);
    if (it != built_.end()) return reuse(it->second);
    if (built_.size() >= kMaxBuilt) {  // drop the shapes no caller is stepping
      for (auto it2 = built_.begin(); it2 != built_.end();)
        if (sqlite3_stmt_busy(it2->second)) {
          ++it2;
        } else {
          sqlite3_finalize(it2->second);
          it2 = built_.erase(it2);
        }
    }
    MV_ASSIGN(sqlite3_stmt * st, prepare(sql.c_str()));
    built_.emplace(sql, st);
    return st;
  }

 private:
  static constexpr size_t kMaxBuilt = 64;
  Result<sqlite3_stmt*> prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK)
      return db_error(db_, "prepare");
    return st;
  }
  Result<sqlite3_stmt*> reuse(sqlite3_stmt* st) {
    if (sqlite3_stmt_busy(st)) return make_error(Errc::internal, "a database query was re-entered while it runs");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
  }
  explicit Conn(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
  std::unordered_map<std::string, sqlite3_stmt*> built_;
};

// RAII for a one-off prepared statement (dynamic SQL).
struct OwnedStmt {
  sqlite3_stmt* st = nullptr;
  ~OwnedStmt() { sqlite3_finalize(st); }
};

// Resets a cached statement when leaving scope, releasing its read snapshot.
struct Reset {
  sqlite3_stmt* st;
  ~Reset() { sqlite3_reset(st); }
};

void bind_text(sqlite3_stmt* st, int i, const std::string& s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}
void bind_blob(sqlite3_stmt* st, int i, const std::string& s) {
  sqlite3_bind_blob(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}

// The SQL of compartment() for n types (0: every type). Statements are cached
// per connection by the address of their text, so each n has one string for
// the life of the process; the types themselves are bound. resource_compartment
// holds (compartment, type, id): one index seek per type.
constexpr size_t kMaxCompartmentTypes = 16;
const char* compartment_sql(size_t n) {
  static const auto sql = [] {
    std::array<std::string, kMaxCompartmentTypes + 1> out;
    for (size_t k = 0; k <= kMaxCompartmentTypes; ++k) {
      std::string& s = out[k];
      s = "SELECT type,id,version,key_id,last_updated,deleted,compartment FROM resource "
          "WHERE compartment=?1 AND deleted=0";
      for (size_t i = 0; i < k; ++i) s += (i ? ",?" : " AND type IN (?") + std::to_string(i + 2);
      if (k) s += ")";
      s += " ORDER BY type, id";
    }
    return out;
  }();
  return sql[n].c_str();
}

std::string col_text(sqlite3_stmt* st, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string();
}
std::string col_blob(sqlite3_stmt* st, int i) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(st, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string();
}

// Column order of every VersionRow query:
// type, id, version, key_id, last_updated, deleted, compartment[, body]
VersionRow read_version(sqlite3_stmt* st, bool with_body) {
  VersionRow r;
  r.type = col_text(st, 0);
  r.id = col_text(st, 1);
  r.version = static_cast<uint64_t>(sqlite3_column_int64(st, 2));
  r.key_id = static_cast<uint64_t>(sqlite3_column_int64(st, 3));
  r.last_updated_ms = sqlite3_column_int64(st, 4);
  r.deleted = sqlite3_column_int(st, 5) != 0;
  r.compartment = col_text(st, 6);
  if (with_body) r.body = col_blob(st, 7);
  return r;
}

AuditRow read_audit(sqlite3_stmt* st) {
  AuditRow a;
  a.seq = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  a.time_ms = sqlite3_column_int64(st, 1);
  a.patient = col_text(st, 2);
  a.user = col_text(st, 3);
  a.entry = col_blob(st, 4);
  a.leaf_hash = col_blob(st, 5);
  a.chain = col_blob(st, 6);
  return a;
}

AuditCheckpointRow read_checkpoint(sqlite3_stmt* st) {
  return AuditCheckpointRow{static_cast<uint64_t>(sqlite3_column_int64(st, 0)),
                            sqlite3_column_int64(st, 1), col_blob(st, 2), col_blob(st, 3)};
}

TokenRow read_token(sqlite3_stmt* st) {
  TokenRow t;
  t.hash = col_blob(st, 0);
  t.token_id = col_text(st, 1);
  t.username = col_text(st, 2);
  t.kind = col_text(st, 3);
  t.created_ms = sqlite3_column_int64(st, 4);
  t.expires_ms = sqlite3_column_int64(st, 5);
  t.last_used_ms = sqlite3_column_int64(st, 6);
  t.revoked = sqlite3_column_int(st, 7) != 0;
  return t;
}

constexpr const char* kCurrentSql =
    "SELECT type,id,version,key_id,last_updated,deleted,compartment FROM resource "
    "WHERE type=?1 AND id=?2";
// The newest version is the last key of (type,id) in the clustered index:
// one b-tree seek.
constexpr const char* kLatestSql =
    "SELECT type,id,version,key_id,last_updated,deleted,compartment,body FROM resource_version "
    "WHERE type=?1 AND id=?2 ORDER BY version DESC LIMIT 1";
constexpr const char* kVersionSql =
    "SELECT type,id,version,key_id,last_updated,deleted,compartment,body FROM resource_version "
    "WHERE type=?1 AND id=?2 AND version=?3";

// ---- snapshot stream (SqliteStore::snapshot) ----------------------------
// A VFS holding one write-only "database file" whose bytes go straight to a
// snapshot sink: sqlite3_backup writes the destination's pages in ascending
// order (cache spills take the oldest dirty page first; the commit writes
// the rest sorted), except page 1, which the destination's B-tree keeps
// pinned and the commit writes with its final header. So the stream takes
// every write at or past its end (a gap, such as SQLite's never-written
// lock-byte page, reads as zeros as in a sparse file), keeps page 1 aside,
// and refuses anything else: an SQLite that wrote in another order makes
// the snapshot fail, never a wrong image. No byte is kept beyond one page.
struct SnapshotStream {
  const Store::SnapshotSink* sink = nullptr;
  sqlite3_int64 page = 0;  // page size: the head is [0, page)
  sqlite3_int64 end = 0;   // bytes streamed so far ([page, end)); 0 before the first
  std::string head;
  std::optional<Error> error;  // the sink's, or why a write was refused

  int fail(Error e) {
    if (!error) error = std::move(e);
    return SQLITE_IOERR_WRITE;
  }
  int write(const char* p, sqlite3_int64 n, sqlite3_int64 off) {
    if (off == 0) {
      if (n != page) return fail(make_error(Errc::internal, "snapshot: unexpected first-page write"));
      head.assign(p, static_cast<size_t>(n));
      return SQLITE_OK;
    }
    if (end == 0) end = page;
    if (off < end) return fail(make_error(Errc::internal, "snapshot: SQLite rewrote an already streamed page"));
    static const std::string zeros(1 << 16, '\0');
    while (end < off) {  // a hole reads as zeros
      auto z = std::min<sqlite3_int64>(off - end, static_cast<sqlite3_int64>(zeros.size()));
      if (auto st = (*sink)(static_cast<uint64_t>(end), {zeros.data(), static_cast<size_t>(z)}); !st.ok())
        return fail(st.error());
      end += z;
    }
    for (sqlite3_int64 done = 0; done < n;) {  // pieces of at most 1 MiB
      auto k = std::min<sqlite3_int64>(n - done, 1 << 20);
      if (auto st = (*sink)(static_cast<uint64_t>(end), {p + done, static_cast<size_t>(k)}); !st.ok())
        return fail(st.error());
      done += k;
      end += k;
    }
    return SQLITE_OK;
  }
  sqlite3_int64 size() const { return std::max<sqlite3_int64>(end, head.empty() ? 0 : page); }
};

struct StreamFile {
  sqlite3_file base;
  SnapshotStream* s;
};

std::mutex g_streams_mu;
std::unordered_map<std::string, SnapshotStream*> g_streams;  // file name -> stream

int sf_close(sqlite3_file*) { return SQLITE_OK; }
int sf_read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
  auto* s = reinterpret_cast<StreamFile*>(f)->s;
  if (off >= s->size()) {  // past the end, as a file: zeros, short read
    std::memset(out, 0, static_cast<size_t>(n));
    return SQLITE_IOERR_SHORT_READ;
  }
  if (off + n <= static_cast<sqlite3_int64>(s->head.size())) {  // the pinned header page, re-read
    std::memcpy(out, s->head.data() + off, static_cast<size_t>(n));
    return SQLITE_OK;
  }
  return SQLITE_IOERR_READ;  // streamed bytes are gone
}
int sf_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  return reinterpret_cast<StreamFile*>(f)->s->write(static_cast<const char*>(p), n, off);
}
int sf_truncate(sqlite3_file* f, sqlite3_int64 size) {
  auto* s = reinterpret_cast<StreamFile*>(f)->s;
  if (size == s->size()) return SQLITE_OK;
  s->fail(make_error(Errc::internal, "snapshot: SQLite truncated the stream"));
  return SQLITE_IOERR_TRUNCATE;
}
int sf_sync(sqlite3_file*, int) { return SQLITE_OK; }
int sf_file_size(sqlite3_file* f, sqlite3_int64* size) {
  *size = reinterpret_cast<StreamFile*>(f)->s->size();
  return SQLITE_OK;
}
int sf_lock(sqlite3_file*, int) { return SQLITE_OK; }
int sf_check_reserved(sqlite3_file*, int* out) {
  *out = 0;
  return SQLITE_OK;
}
int sf_file_control(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }
int sf_sector_size(sqlite3_file*) { return 4096; }
int sf_device(sqlite3_file*) { return 0; }

const sqlite3_io_methods kStreamIo = {1, sf_close, sf_read, sf_write, sf_truncate, sf_sync, sf_file_size, sf_lock,
                                      sf_lock, sf_check_reserved, sf_file_control, sf_sector_size, sf_device,
                                      nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

int sv_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  f->pMethods = nullptr;
  if (name == nullptr || (flags & SQLITE_OPEN_MAIN_DB) == 0) return SQLITE_CANTOPEN;  // no journal: OFF
  std::lock_guard<std::mutex> lock(g_streams_mu);
  auto it = g_streams.find(name);
  if (it == g_streams.end()) return SQLITE_CANTOPEN;
  reinterpret_cast<StreamFile*>(f)->s = it->second;
  f->pMethods = &kStreamIo;
  if (out_flags) *out_flags = flags;
  return SQLITE_OK;
}
int sv_delete(sqlite3_vfs*, const char*, int) { return SQLITE_OK; }
int sv_access(sqlite3_vfs*, const char*, int, int* out) {
  *out = 0;  // no journal, no WAL
  return SQLITE_OK;
}
int sv_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  sqlite3_snprintf(n, out, "%s", name);
  return SQLITE_OK;
}
int sv_randomness(sqlite3_vfs*, int n, char* out) {
  sqlite3_randomness(n, out);
  return n;
}
int sv_sleep(sqlite3_vfs* v, int us) { return static_cast<sqlite3_vfs*>(v->pAppData)->xSleep(static_cast<sqlite3_vfs*>(v->pAppData), us); }
int sv_time(sqlite3_vfs* v, double* t) { return static_cast<sqlite3_vfs*>(v->pAppData)->xCurrentTime(static_cast<sqlite3_vfs*>(v->pAppData), t); }

constexpr const char* kStreamVfs = "medvault-snapshot-stream";

// Registers the VFS once (not as the default); nullopt when done.
std::optional<Error> register_stream_vfs() {
  static const int rc = [] {
    static sqlite3_vfs vfs{};
    sqlite3_vfs* def = sqlite3_vfs_find(nullptr);
    if (def == nullptr) return SQLITE_ERROR;
    vfs.iVersion = 1;
    vfs.szOsFile = sizeof(StreamFile);
    vfs.mxPathname = 256;
    vfs.zName = kStreamVfs;
    vfs.pAppData = def;
    vfs.xOpen = sv_open;
    vfs.xDelete = sv_delete;
    vfs.xAccess = sv_access;
    vfs.xFullPathname = sv_full_pathname;
    vfs.xRandomness = sv_randomness;
    vfs.xSleep = sv_sleep;
    vfs.xCurrentTime = sv_time;
    return sqlite3_vfs_register(&vfs, 0);
  }();
  if (rc != SQLITE_OK) return make_error(Errc::internal, "cannot register the snapshot stream");
  return std::nullopt;
}

class SqliteStore;

// The reader connection a read scope of this thread holds, in a read
// transaction (BEGIN ... COMMIT around the scope): Store::read_scope().
struct PinnedReader {
  const SqliteStore* store = nullptr;
  Conn* conn = nullptr;
};
thread_local PinnedReader pinned_;

// The WAL's fdatasync for a GroupSync: a committer takes a ticket after its
// COMMIT (commit_unsynced() callers: Store::sync() takes one later). The
// file is opened for each sync: fdatasync on any descriptor flushes the
// file, and SQLite may recreate the WAL file between two commits of other
// processes.
std::function<Status()> wal_syncer(std::string path) {
  return [path = std::move(path)]() -> Status {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return ok_status();  // no WAL: everything is in the database file
      return make_error(Errc::io, "cannot open the write-ahead log to sync it");
    }
    const int rc = ::fdatasync(fd);
    ::close(fd);
    if (rc != 0) return make_error(Errc::io, "cannot sync the write-ahead log to disk");
    return ok_status();
  };
}

// More entries than this in one change: synced before COMMIT rather than
// copied into it.
constexpr size_t kOutboxMax = 256;

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(Conn& c, std::unique_lock<std::mutex> lock, GroupSync& sync, AuditFiles& audit,
                    uint64_t audit_base)
      : c_(c), lock_(std::move(lock)), sync_(sync), audit_(audit), audit_base_(audit_base),
        changes_at_begin_(sqlite3_total_changes64(c.db())) {}
  ~SqliteTransaction() override {
    if (!done_) (void)c_.run("ROLLBACK");
  }

  Result<std::optional<VersionRow>> current(const std::string& type,
                                            const std::string& id) override {
    MV_ASSIGN(sqlite3_stmt * st, c_.stmt(kCurrentSql));
    Reset r{st};
    bind_text(st, 1, type);
    bind_text(st, 2, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::optional<VersionRow>(read_version(st, false));
    if (rc == SQLITE_DONE) return std::optional<VersionRow>();
    return db_error(c_.db(), "current");
  }

  Status put_version(const VersionRow& row) override {
    MV_ASSIGN(auto cur, current(row.type, row.id));
    uint64_t expected = cur ? cur->version + 1 : 1;
    if (row.version != expected)
      return make_error(Errc::conflict, row.type + "/" + row.id + ": version " +
                                            std::to_string(row.version) + " is not the next (" +
                                            std::to_string(expected) + ")");
    {
      MV_ASSIGN(sqlite3_stmt * st,
                c_.stmt("INSERT INTO resource_version(type,id,version,key_id,last_updated,"
                        "deleted,compartment,body) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"));
      Reset r{st};
      bind_text(st, 1, row.type);
      bind_text(st, 2, row.id);
      sqlite3_bind_int64(st, 3, static_cast<int64_t>(row.version));
      sqlite3_bind_int64(st, 4, static_cast<int64_t>(row.key_id));
      sqlite3_bind_int64(st, 5, row.last_updated_ms);
      sqlite3_bind_int(st, 6, row.deleted ? 1 : 0);
      bind_text(st, 7, row.compartment);
      bind_blob(st, 8, row.body);
      if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "insert version");
    }
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT INTO resource(type,id,version,key_id,last_updated,deleted,"
                      "compartment) VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(type,id) DO UPDATE "
                      "SET version=excluded.version, key_id=excluded.key_id, "
                      "last_updated=excluded.last_updated, deleted=excluded.deleted, "
                      "compartment=excluded.compartment"));
    Reset r{st};
    bind_text(st, 1, row.type);
    bind_text(st, 2, row.id);
    sqlite3_bind_int64(st, 3, static_cast<int64_t>(row.version));
    sqlite3_bind_int64(st, 4, static_cast<int64_t>(row.key_id));
    sqlite3_bind_int64(st, 5, row.last_updated_ms);
    sqlite3_bind_int(st, 6, row.deleted ? 1 : 0);
    bind_text(st, 7, row.compartment);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "update current");
    return ok_status();
  }

  Status set_index(const std::string& type, const std::string& id,
                   const std::vector<IndexToken>& tokens) override {
    {
      MV_ASSIGN(sqlite3_stmt * st, c_.stmt("DELETE FROM search_token WHERE type=?1 AND id=?2"));
      Reset r{st};
      bind_text(st, 1, type);
      bind_text(st, 2, id);
      if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "clear index");
    }
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT OR IGNORE INTO search_token(type,param,token,id) "
                      "VALUES(?1,?2,?3,?4)"));
    for (const auto& t : tokens) {
      sqlite3_reset(st);
      bind_text(st, 1, type);
      bind_text(st, 2, t.param);
      bind_blob(st, 3, t.token);
      bind_text(st, 4, id);
      if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "insert index");
    }
    sqlite3_reset(st);
    return ok_status();
  }

  Status put_kek(const KekRow& kek) override {
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT INTO kek(version,wrapped,created) VALUES(?1,?2,?3)"));
    Reset r{st};
    sqlite3_bind_int64(st, 1, kek.version);
    bind_blob(st, 2, kek.wrapped);
    sqlite3_bind_int64(st, 3, kek.created_ms);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "insert kek");
    return ok_status();
  }

  Status delete_kek(uint32_t version) override {
    MV_ASSIGN(sqlite3_stmt * st, c_.stmt("DELETE FROM kek WHERE version=?1"));
    Reset r{st};
    sqlite3_bind_int64(st, 1, version);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "delete kek");
    return ok_status();
  }

  Result<uint64_t> put_dek(const DekRow& dek) override {
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT INTO dek(key_id,compartment,kek_version,wrapped) "
                      "VALUES(?1,?2,?3,?4)"));
    Reset r{st};
    if (dek.key_id != 0)
      sqlite3_bind_int64(st, 1, static_cast<int64_t>(dek.key_id));
    else
      sqlite3_bind_null(st, 1);
    bind_text(st, 2, dek.compartment);
    sqlite3_bind_int64(st, 3, dek.kek_version);
    bind_blob(st, 4, dek.wrapped);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "insert dek");
    return static_cast<uint64_t>(sqlite3_last_insert_rowid(c_.db()));
  }

  Status rewrap_dek(uint64_t key_id, uint32_t kek_version, const std::string& wrapped) override {
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("UPDATE dek SET kek_version=?2, wrapped=?3 WHERE key_id=?1"));
    Reset r{st};
    sqlite3_bind_int64(st, 1, static_cast<int64_t>(key_id));
    sqlite3_bind_int64(st, 2, kek_version);
    bind_blob(st, 3, wrapped);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "rewrap dek");
    return ok_status();
  }

  // Kept until commit, when they go to the log's files.
  Status append_audit(const std::vector<AuditRow>& rows) override {
    if (rows.empty()) return ok_status();
    const uint64_t next = audit_base_ + pending_.size() + 1;
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].seq != next + i)
        return make_error(Errc::conflict, rows[i].seq < next
                                              ? "audit entry " + std::to_string(rows[i].seq) + " already exists"
                                              : "audit entries must follow entry " + std::to_string(next + i - 1));
    pending_.insert(pending_.end(), rows.begin(), rows.end());
    return ok_status();
  }

  // A new random kAuthGeneration, once per transaction (store.h).
  Status touch_auth() {
    if (auth_touched_) return ok_status();
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    MV_TRY(put_meta(kAuthGeneration, hex));
    auth_touched_ = true;
    return ok_status();
  }

  Status put_meta(const std::string& key, const std::string& value) override {
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT OR REPLACE INTO meta(key,value) VALUES(?1,?2)"));
    Reset r{st};
    bind_text(st, 1, key);
    bind_text(st, 2, value);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "put meta");
    return ok_status();
  }

  Result<bool> delete_meta(const std::string& key) override {
    MV_ASSIGN(sqlite3_stmt * st, c_.stmt("DELETE FROM meta WHERE key=?1"));
    Reset r{st};
    bind_text(st, 1, key);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "delete meta");
    return sqlite3_changes(c_.db()) > 0;
  }

  Status put_facts_summary(const std::string& patient, const std::string& sealed) override {
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT OR REPLACE INTO facts_summary(patient,sealed) VALUES(?1,?2)"));
    Reset r{st};
    bind_text(st, 1, patient);
    bind_blob(st, 2, sealed);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "put facts summary");
    return ok_status();
  }

  Result<std::vector<AuditRow>> take_audit_orphans() override {
    std::vector<AuditRow> out;
    {
      MV_ASSIGN(sqlite3_stmt * st, c_.stmt("SELECT seq,entry FROM audit_pending WHERE seq>?1 ORDER BY seq"));
      Reset r{st};
      sqlite3_bind_int64(st, 1, static_cast<int64_t>(audit_base_));
      int rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        AuditRow a;
        a.seq = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
        a.entry = col_blob(st, 1);
        out.push_back(std::move(a));
      }
      if (rc != SQLITE_DONE) return db_error(c_.db(), "audit orphans");
    }
    MV_ASSIGN(sqlite3_stmt * del, c_.stmt("DELETE FROM audit_pending WHERE seq>?1"));
    Reset r{del};
    sqlite3_bind_int64(del, 1, static_cast<int64_t>(audit_base_));
    if (sqlite3_step(del) != SQLITE_DONE) return db_error(c_.db(), "audit orphans");
    return out;
  }

  Status put_audit_checkpoint(const AuditCheckpointRow& c) override {
    checkpointed_ = true;
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT OR IGNORE INTO audit_checkpoint(size,time,note,frontier) "
                      "VALUES(?1,?2,?3,?4)"));
    Reset r{st};
    sqlite3_bind_int64(st, 1, static_cast<int64_t>(c.size));
    sqlite3_bind_int64(st, 2, c.time_ms);
    bind_blob(st, 3, c.note);
    bind_blob(st, 4, c.frontier);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "put audit checkpoint");
    return ok_status();
  }

  Status put_account(const AccountRow& a) override {
    MV_TRY(touch_auth());
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT OR REPLACE INTO account(username,role,data,created) "
                      "VALUES(?1,?2,?3,?4)"));
    Reset r{st};
    bind_text(st, 1, a.username);
    bind_text(st, 2, a.role);
    bind_text(st, 3, a.data);
    sqlite3_bind_int64(st, 4, a.created_ms);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "put account");
    return ok_status();
  }

  Status put_token(const TokenRow& t) override {
    MV_TRY(touch_auth());
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("INSERT OR REPLACE INTO token(hash,token_id,username,kind,created,"
                      "expires,last_used,revoked) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"));
    Reset r{st};
    bind_blob(st, 1, t.hash);
    bind_text(st, 2, t.token_id);
    bind_text(st, 3, t.username);
    bind_text(st, 4, t.kind);
    sqlite3_bind_int64(st, 5, t.created_ms);
    sqlite3_bind_int64(st, 6, t.expires_ms);
    sqlite3_bind_int64(st, 7, t.last_used_ms);
    sqlite3_bind_int(st, 8, t.revoked ? 1 : 0);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "put token");
    return ok_status();
  }

  Result<uint64_t> revoke_tokens(const std::string& username,
                                 const std::string& token_id) override {
    MV_TRY(touch_auth());
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("UPDATE token SET revoked=1 WHERE revoked=0 AND "
                      "((?2 <> '' AND token_id=?2) OR (?2 = '' AND username=?1))"));
    Reset r{st};
    bind_text(st, 1, username);
    bind_text(st, 2, token_id);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "revoke tokens");
    return static_cast<uint64_t>(sqlite3_changes(c_.db()));
  }

  Result<uint64_t> purge_sessions(int64_t now_ms, int64_t idle_before_ms) override {
    MV_TRY(touch_auth());
    MV_ASSIGN(sqlite3_stmt * st,
              c_.stmt("DELETE FROM token WHERE (kind='session' OR kind LIKE 'session-%') AND "
                      "(revoked<>0 OR expires<=?1 OR last_used<=?2)"));
    Reset r{st};
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, idle_before_ms);
    if (sqlite3_step(st) != SQLITE_DONE) return db_error(c_.db(), "purge sessions");
    return static_cast<uint64_t>(sqlite3_changes(c_.db()));
  }

  // Committed and durable, or an error. The writer lock is released before
  // the fsyncs that can wait, so the next writer starts meanwhile.
  Status commit() override { return finish(true); }
  Status commit_unsynced() override { return finish(false); }

 private:
  // The audit entries go to the log's files first (synced before COMMIT
  // if the database changed: see the top of this file); a COMMIT that
  // fails takes them back out.
  Status finish(bool durable) {
    const bool changed = sqlite3_total_changes64(c_.db()) != changes_at_begin_;
    const bool copied = changed && !durable && !checkpointed_ && !pending_.empty() && pending_.size() <= kOutboxMax;
    if (copied) MV_TRY(copy_entries());
    if (!pending_.empty()) {
      MV_TRY(audit_.append(pending_));
      Status st = changed && !copied ? audit_.sync() : ok_status();
      if (!st.ok()) {
        (void)audit_.truncate(audit_base_);
        return st;
      }
    }
    if (auto st = c_.run("COMMIT"); !st.ok()) {
      if (!pending_.empty()) (void)audit_.truncate(audit_base_);
      return st;
    }
    done_ = true;
    lock_.unlock();
    if (!pending_.empty() && !changed) MV_TRY(audit_.sync());
    if (durable && changed) return sync_.sync_now();
    return ok_status();
  }

  // The entries into audit_pending, and the rows of earlier changes that
  // the files now hold on disk out of it.
  Status copy_entries() {
    MV_ASSIGN(sqlite3_stmt * del, c_.stmt("DELETE FROM audit_pending WHERE seq<=?1"));
    {
      Reset r{del};
      sqlite3_bind_int64(del, 1, static_cast<int64_t>(audit_.durable()));
      if (sqlite3_step(del) != SQLITE_DONE) return db_error(c_.db(), "audit pending");
    }
    MV_ASSIGN(sqlite3_stmt * st, c_.stmt("INSERT OR REPLACE INTO audit_pending(seq,entry) VALUES(?1,?2)"));
    for (const auto& a : pending_) {
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, static_cast<int64_t>(a.seq));
      bind_blob(st, 2, a.entry);
      if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_reset(st);
        return db_error(c_.db(), "audit pending");
      }
    }
    sqlite3_reset(st);
    return ok_status();
  }

  Conn& c_;
  std::unique_lock<std::mutex> lock_;
  GroupSync& sync_;
  AuditFiles& audit_;
  const uint64_t audit_base_;  // entries in the log when the transaction began
  const sqlite3_int64 changes_at_begin_;
  std::vector<AuditRow> pending_;
  bool checkpointed_ = false;  // a checkpoint row: the files are synced before COMMIT
  bool auth_touched_ = false;
  bool done_ = false;
};

// Runs PASSIVE checkpoints on its own connection when the writer reports
// (through SQLite's WAL hook, which replaces automatic checkpoints) that the
// WAL holds kCheckpointPages frames or more. PASSIVE never waits for the
// writer or readers; frames a reader still needs are copied next time. If
// the WAL still grows past kInlinePages (checkpoints cannot keep up, or the
// thread failed) the writer checkpoints itself, as SQLite would by default.
class Checkpointer {
 public:
  static constexpr int kCheckpointPages = 1000;  // SQLite's default threshold
  static constexpr int kInlinePages = 100000;    // ~400 MB of WAL

  Checkpointer(std::string path, sqlite3* writer) : path_(std::move(path)) {
    sqlite3_wal_hook(writer, &Checkpointer::hook, this);
  }
  ~Checkpointer() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  static int hook(void* self, sqlite3* db, const char*, int pages) {
    auto* c = static_cast<Checkpointer*>(self);
    if (pages >= kInlinePages) {
      (void)sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      return SQLITE_OK;
    }
    if (pages >= kCheckpointPages) c->request();
    return SQLITE_OK;
  }

  void request() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stop_) return;
      wanted_ = true;
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    cv_.notify_one();
  }

  void run() {
    std::unique_ptr<Conn> conn;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [this] { return stop_ || wanted_; });
      if (stop_) return;
      wanted_ = false;
      lk.unlock();
      if (!conn) {
        auto c = Conn::open(path_, false);
        if (c.ok()) conn = std::move(c).value();
      }
      // A failure leaves the frames in the WAL: the next request retries,
      // and the writer checkpoints inline past kInlinePages.
      if (conn) (void)sqlite3_wal_checkpoint_v2(conn->db(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lk.lock();
    }
  }

  const std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stop_ = false;
  std::thread thread_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, std::unique_ptr<Conn> writer, std::unique_ptr<AuditFiles> audit)
      : path_(std::move(path)), writer_(std::move(writer)), audit_(std::move(audit)),
        wal_sync_(wal_syncer(path_ + "-wal")),
        checkpointer_(std::make_unique<Checkpointer>(path_, writer_->db())) {}

  // Makes everything committed so far durable (after migrations): the
  // log's files, then the WAL.
  Status sync() override {
    MV_TRY(audit_->sync());
    return wal_sync_.sync_now();
  }

  Result<std::unique_ptr<Transaction>> begin() override {
    std::unique_lock<std::mutex> lock(writer_mu_);
    MV_TRY(writer_->run("BEGIN IMMEDIATE"));
    // Under SQLite's write lock no other process is appending: the log's
    // size is exact.
    auto n = audit_->refresh();
    if (!n.ok()) {
      (void)writer_->run("ROLLBACK");
      return n.error();
    }
    return std::unique_ptr<Transaction>(new SqliteTransaction(*writer_, std::move(lock), wal_sync_, *audit_, *n));
  }

  Result<std::optional<VersionRow>> current(const std::string& type,
                                            const std::string& id) override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->stmt(kLatestSql));
    Reset r{st};
    bind_text(st, 1, type);
    bind_text(st, 2, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::optional<VersionRow>(read_version(st, true));
    if (rc == SQLITE_DONE) return std::optional<VersionRow>();
    return db_error(c->db(), "read");
  }

  Result<std::optional<VersionRow>> version(const std::string& type, const std::string& id,
                                            uint64_t version) override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->stmt(kVersionSql));
    Reset r{st};
    bind_text(st, 1, type);
    bind_text(st, 2, id);
    sqlite3_bind_int64(st, 3, static_cast<int64_t>(version));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::optional<VersionRow>(read_version(st, true));
    if (rc == SQLITE_DONE) return std::optional<VersionRow>();
    return db_error(c->db(), "vread");
  }

  Result<std::vector<VersionRow>> history(const std::string& type, const std::string& id,
                                          std::optional<int64_t> since_ms,
                                          size_t limit) override {
    MV_ASSIGN(auto c, reader());
    const char* sql;
    if (!id.empty())
      sql = "SELECT type,id,version,key_id,last_updated,deleted,compartment,body "
            "FROM resource_version WHERE type=?1 AND id=?2 AND last_updated>=?3 "
            "ORDER BY version DESC LIMIT ?4";
    else if (!type.empty())
      sql = "SELECT type,id,version,key_id,last_updated,deleted,compartment,body "
            "FROM resource_version WHERE type=?1 AND last_updated>=?3 "
            "ORDER BY last_updated DESC, id, version DESC LIMIT ?4";
    else
      sql = "SELECT type,id,version,key_id,last_updated,deleted,compartment,body "
            "FROM resource_version WHERE last_updated>=?3 "
            "ORDER BY last_updated DESC, type, id, version DESC LIMIT ?4";
    MV_ASSIGN(sqlite3_stmt * st, c->stmt(sql));
    Reset r{st};
    bind_text(st, 1, type);
    bind_text(st, 2, id);
    sqlite3_bind_int64(st, 3, since_ms.value_or(INT64_MIN));
    sqlite3_bind_int64(st, 4, static_cast<int64_t>(limit));
    std::vector<VersionRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(read_version(st, true));
    if (rc != SQLITE_DONE) return db_error(c->db(), "history");
    return out;
  }

  using Store::scan;
  Status scan(const ScanFilter& f, const std::function<bool(const VersionRow&)>& fn) override {
    // In id order, the first term with a single token drives the query: its
    // index entries (type, param, token, id) come in id order, so rows are
    // produced one at a time and a caller that stops after a page never
    // reads the thousands of candidates of a common name prefix. CROSS JOIN
    // keeps SQLite from reordering the loops. Otherwise the candidates are
    // gathered (and sorted) first.
    const IndexTerm* driver = nullptr;
    if (!f.newest_first)
      for (const auto& t : f.terms)
        if (t.tokens.size() == 1) {
          driver = &t;
          break;
        }
    std::string sql =
        "SELECT r.type,r.id,r.version,r.key_id,r.last_updated,r.deleted,r.compartment FROM ";
    sql += driver ? "search_token s CROSS JOIN resource r ON r.type=s.type AND r.id=s.id "
                    "WHERE s.type=?1 AND s.param=? AND s.token=? AND r.deleted=0"
                  : "resource r WHERE r.type=?1 AND r.deleted=0";
    for (const auto& t : f.terms) {
      if (&t == driver) continue;
      sql += " AND r.id IN (SELECT id FROM search_token WHERE type=?1 AND param=? AND token IN (";
      for (size_t i = 0; i < t.tokens.size(); ++i) sql += i ? ",?" : "?";
      sql += "))";
    }
    if (!f.ids.empty()) {
      sql += " AND r.id IN (";
      for (size_t i = 0; i < f.ids.size(); ++i) sql += i ? ",?" : "?";
      sql += ")";
    }
    if (f.updated_from_ms) sql += " AND r.last_updated >= ?";
    if (f.updated_to_ms) sql += " AND r.last_updated < ?";
    sql += driver ? " ORDER BY s.id" : f.newest_first ? " ORDER BY r.last_updated DESC, r.id" : " ORDER BY r.id";

    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->built(sql));
    Reset r{st};
    int i = 1;
    bind_text(st, i++, f.type);
    if (driver) {
      bind_text(st, i++, driver->param);
      bind_blob(st, i++, driver->tokens.front());
    }
    for (const auto& t : f.terms) {
      if (&t == driver) continue;
      bind_text(st, i++, t.param);
      for (const auto& tok : t.tokens) bind_blob(st, i++, tok);
    }
    for (const auto& id : f.ids) bind_text(st, i++, id);
    if (f.updated_from_ms) sqlite3_bind_int64(st, i++, *f.updated_from_ms);
    if (f.updated_to_ms) sqlite3_bind_int64(st, i++, *f.updated_to_ms);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      if (!fn(read_version(st, false))) return ok_status();
    if (rc != SQLITE_DONE) return db_error(c->db(), "scan");
    return ok_status();
  }

  Result<std::vector<VersionRow>> compartment(const std::string& patient,
                                              std::span<const std::string_view> types) override {
    if (types.size() > kMaxCompartmentTypes) return make_error(Errc::internal, "too many types for a compartment query");
    return query_all<VersionRow>(
        compartment_sql(types.size()), "compartment",
        [&](sqlite3_stmt* st) {
          bind_text(st, 1, patient);
          for (size_t i = 0; i < types.size(); ++i)
            sqlite3_bind_text(st, static_cast<int>(i + 2), types[i].data(), static_cast<int>(types[i].size()),
                              SQLITE_STATIC);
        },
        [](sqlite3_stmt* st) { return read_version(st, false); });
  }

  Status for_each_current(const std::function<bool(const VersionRow&)>& fn) override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st,
              c->stmt("SELECT v.type,v.id,v.version,v.key_id,v.last_updated,v.deleted,"
                      "v.compartment,v.body FROM resource r JOIN resource_version v "
                      "ON v.type=r.type AND v.id=r.id AND v.version=r.version "
                      "WHERE r.deleted=0 ORDER BY r.type, r.id"));
    Reset r{st};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      if (!fn(read_version(st, true))) return ok_status();
    if (rc != SQLITE_DONE) return db_error(c->db(), "export");
    return ok_status();
  }

  Result<std::vector<KekRow>> keks() override {
    return query_all<KekRow>(
        "SELECT version,wrapped,created FROM kek ORDER BY version", "keks", [](sqlite3_stmt*) {},
        [](sqlite3_stmt* st) {
          return KekRow{static_cast<uint32_t>(sqlite3_column_int64(st, 0)), col_blob(st, 1),
                        sqlite3_column_int64(st, 2)};
        });
  }

  Result<std::optional<DekRow>> dek(uint64_t key_id) override {
    return one_dek("SELECT key_id,compartment,kek_version,wrapped FROM dek WHERE key_id=?1",
                   [&](sqlite3_stmt* st) { sqlite3_bind_int64(st, 1, static_cast<int64_t>(key_id)); });
  }

  Result<std::optional<DekRow>> dek_for(const std::string& compartment) override {
    return one_dek("SELECT key_id,compartment,kek_version,wrapped FROM dek WHERE compartment=?1",
                   [&](sqlite3_stmt* st) { bind_text(st, 1, compartment); });
  }

  Result<std::vector<DekRow>> deks() override {
    return query_all<DekRow>("SELECT key_id,compartment,kek_version,wrapped FROM dek ORDER BY key_id",
                             "deks", [](sqlite3_stmt*) {}, read_dek);
  }

  Result<uint64_t> audit_size() override { return audit_->refresh(); }

  Result<std::vector<AuditRow>> audit_range(uint64_t first_seq, size_t n) override {
    std::vector<AuditRow> out;
    MV_TRY(audit_->scan(first_seq, n, [&](const AuditRowView& v) {
      out.push_back(row_of(v));
      return true;
    }));
    return out;
  }

  Result<std::vector<AuditRow>> audit_by_patient(const std::string& patient,
                                                 size_t limit) override {
    if (patient.empty()) return std::vector<AuditRow>();
    MV_ASSIGN(auto seqs, audit_->find(AuditFiles::Key::patient, patient, limit));
    return audit_rows(seqs, [&](const AuditRowView& v) { return v.patient == patient; });
  }

  Result<std::vector<AuditRow>> audit_by_user(const std::string& user, size_t limit) override {
    MV_ASSIGN(auto seqs, audit_->find(AuditFiles::Key::user, user, limit));
    return audit_rows(seqs, [&](const AuditRowView& v) { return v.user == user; });
  }

  Result<std::vector<AuditRow>> audit_in_window(int64_t from_ms, int64_t to_ms,
                                                size_t limit) override {
    MV_ASSIGN(auto seqs, audit_->find_time(from_ms, to_ms, limit));
    return audit_rows(seqs, [](const AuditRowView&) { return true; });
  }

  Status audit_scan(uint64_t first_seq, uint64_t n,
                    const std::function<bool(const AuditRowView&)>& fn) override {
    return audit_->scan(first_seq, n, fn);
  }

  Result<std::vector<AuditCheckpointRow>> audit_checkpoints() override {
    return query_all<AuditCheckpointRow>(
        "SELECT size,time,note,frontier FROM audit_checkpoint ORDER BY size", "audit checkpoints",
        [](sqlite3_stmt*) {}, read_checkpoint);
  }

  Result<bool> has_audit_orphans() override {
    MV_ASSIGN(const uint64_t n, audit_->refresh());
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->stmt("SELECT EXISTS(SELECT 1 FROM audit_pending WHERE seq>?1)"));
    Reset r{st};
    sqlite3_bind_int64(st, 1, static_cast<int64_t>(n));
    if (sqlite3_step(st) != SQLITE_ROW) return db_error(c->db(), "audit orphans");
    return sqlite3_column_int(st, 0) != 0;
  }

  Result<std::optional<AuditCheckpointRow>> last_audit_checkpoint() override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st,
              c->stmt("SELECT size,time,note,frontier FROM audit_checkpoint "
                      "ORDER BY size DESC LIMIT 1"));
    Reset r{st};
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::optional<AuditCheckpointRow>(read_checkpoint(st));
    if (rc == SQLITE_DONE) return std::optional<AuditCheckpointRow>();
    return db_error(c->db(), "last audit checkpoint");
  }

  Result<std::optional<std::string>> meta(const std::string& key) override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->stmt("SELECT value FROM meta WHERE key=?1"));
    Reset r{st};
    bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::optional<std::string>(col_text(st, 0));
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    return db_error(c->db(), "meta");
  }

  Result<std::optional<std::string>> facts_summary(const std::string& patient) override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->stmt("SELECT sealed FROM facts_summary WHERE patient=?1"));
    Reset r{st};
    bind_text(st, 1, patient);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::optional<std::string>(col_blob(st, 0));
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    return db_error(c->db(), "facts summary");
  }

  Result<std::optional<AccountRow>> account(const std::string& username) override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st,
              c->stmt("SELECT username,role,data,created FROM account WHERE username=?1"));
    Reset r{st};
    bind_text(st, 1, username);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
      return std::optional<AccountRow>(AccountRow{col_text(st, 0), col_text(st, 1),
                                                  col_text(st, 2), sqlite3_column_int64(st, 3)});
    if (rc == SQLITE_DONE) return std::optional<AccountRow>();
    return db_error(c->db(), "account");
  }

  Status for_each_version(const std::function<bool(const VersionRow&)>& fn) override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st,
              c->stmt("SELECT type,id,version,key_id,last_updated,deleted,compartment,body "
                      "FROM resource_version ORDER BY type, id, version"));
    Reset r{st};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      if (!fn(read_version(st, true))) return ok_status();
    if (rc != SQLITE_DONE) return db_error(c->db(), "versions");
    return ok_status();
  }

  Status for_each_index_token(
      const std::function<bool(const std::string&, const std::string&, const IndexToken&)>& fn)
      override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st,
              c->stmt("SELECT type,id,param,token FROM search_token ORDER BY type, id"));
    Reset r{st};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      if (!fn(col_text(st, 0), col_text(st, 1), IndexToken{col_text(st, 2), col_blob(st, 3)}))
        return ok_status();
    if (rc != SQLITE_DONE) return db_error(c->db(), "index tokens");
    return ok_status();
  }

  Result<std::vector<TokenRow>> tokens() override {
    return query_all<TokenRow>(
        "SELECT hash,token_id,username,kind,created,expires,last_used,revoked FROM token "
        "ORDER BY token_id",
        "tokens", [](sqlite3_stmt*) {}, read_token);
  }

  Result<std::vector<std::pair<std::string, std::string>>> metas() override {
    return query_all<std::pair<std::string, std::string>>(
        "SELECT key,value FROM meta ORDER BY key", "meta",
        [](sqlite3_stmt*) {},
        [](sqlite3_stmt* st) { return std::pair{col_text(st, 0), col_text(st, 1)}; });
  }

  Result<std::vector<AccountRow>> accounts() override {
    return query_all<AccountRow>(
        "SELECT username,role,data,created FROM account ORDER BY username", "accounts",
        [](sqlite3_stmt*) {}, [](sqlite3_stmt* st) {
          return AccountRow{col_text(st, 0), col_text(st, 1), col_text(st, 2),
                            sqlite3_column_int64(st, 3)};
        });
  }

  Result<std::optional<TokenRow>> token(const std::string& hash) override {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st,
              c->stmt("SELECT hash,token_id,username,kind,created,expires,last_used,revoked "
                      "FROM token WHERE hash=?1"));
    Reset r{st};
    bind_blob(st, 1, hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::optional<TokenRow>(read_token(st));
    if (rc == SQLITE_DONE) return std::optional<TokenRow>();
    return db_error(c->db(), "token");
  }

  Result<uint64_t> count_current(const std::string& type) override {
    if (type.empty()) return count("SELECT COUNT(*) FROM resource WHERE deleted=0", {});
    return count("SELECT COUNT(*) FROM resource WHERE type=?1 AND deleted=0", type);
  }

  Status integrity_check() override {
    MV_ASSIGN(auto c, reader());
    OwnedStmt os;
    if (sqlite3_prepare_v2(c->db(), "PRAGMA integrity_check", -1, &os.st, nullptr) != SQLITE_OK)
      return db_error(c->db(), "integrity check");
    std::string first;
    while (sqlite3_step(os.st) == SQLITE_ROW) {
      if (first.empty()) first = col_text(os.st, 0);
    }
    if (first != "ok") return make_error(Errc::integrity, "database integrity check failed: " + first);
    return ok_status();
  }

  void expect_bulk_writes() override {
    std::lock_guard<std::mutex> lock(writer_mu_);
    (void)writer_->exec("PRAGMA cache_size=-65536");  // a hint: failing to apply it changes nothing else
  }

  Status compact() override {
    std::lock_guard<std::mutex> lock(writer_mu_);
    return writer_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  // The online backup API copies the pages of one WAL read snapshot (the read
  // transaction opened first) into a database on the stream VFS above, which
  // hands each page to `sink` as SQLite writes it: no image in memory, no
  // temp file, and the backup's chunking runs while the copy goes on.
  //
  // The audit entries of the copy are those in the log's files when its
  // read snapshot began, taken under the writer lock (no transaction is
  // then between writing its entries and committing): every change in the
  // copy has its entries, and none is missing from them. The files are
  // append-only, so their first `bytes` bytes can be read after the copy.
  Result<SnapshotInfo> snapshot(const SnapshotSink& sink) override {
    if (auto e = register_stream_vfs()) return *e;
    MV_ASSIGN(auto src, Conn::open(path_, false));
    SnapshotInfo info;
    SnapshotStream stream;
    stream.sink = &sink;
    {
      std::lock_guard<std::mutex> lock(writer_mu_);
      MV_TRY(writer_->run("BEGIN IMMEDIATE"));
      struct Release {
        Conn& c;
        ~Release() { (void)c.run("ROLLBACK"); }
      } release{*writer_};
      MV_TRY(src->exec("BEGIN"));
      // A table read: the read snapshot certainly begins here, under the lock.
      OwnedStmt os;
      if (sqlite3_prepare_v2(src->db(),
                             "SELECT (SELECT page_size FROM pragma_page_size), (SELECT COUNT(*) FROM sqlite_master)",
                             -1, &os.st, nullptr) != SQLITE_OK ||
          sqlite3_step(os.st) != SQLITE_ROW)
        return db_error(src->db(), "snapshot");
      stream.page = sqlite3_column_int64(os.st, 0);
      MV_ASSIGN(info.audit_entries, audit_->refresh());
    }
    MV_ASSIGN(auto extents, audit_->extents(info.audit_entries));
    const std::string dir_name = audit_->dir().filename().string();
    for (auto& x : extents) info.files.push_back({dir_name + "/" + x.name, audit_->dir() / x.name, x.bytes});
    char name[64];
    std::snprintf(name, sizeof name, "medvault-snapshot-%p", static_cast<void*>(&stream));
    {
      std::lock_guard<std::mutex> lock(g_streams_mu);
      g_streams[name] = &stream;
    }
    struct Unregister {
      const char* name;
      ~Unregister() {
        std::lock_guard<std::mutex> lock(g_streams_mu);
        g_streams.erase(name);
      }
    } unregister{name};
    sqlite3* dst = nullptr;
    int rc = sqlite3_open_v2(name, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kStreamVfs);
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> dst_owner(dst, sqlite3_close_v2);
    if (rc != SQLITE_OK) return make_error(Errc::io, "cannot open the snapshot stream");
    // No journal (nothing to roll back to: a failed copy is dropped whole).
    if (sqlite3_exec(dst, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", nullptr, nullptr, nullptr) != SQLITE_OK)
      return db_error(dst, "snapshot");
    sqlite3_backup* b = sqlite3_backup_init(dst, "main", src->db(), "main");
    if (b == nullptr) return db_error(dst, "snapshot");
    rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (stream.error) return *stream.error;
    if (rc != SQLITE_DONE) return make_error(Errc::io, std::string("snapshot copy failed: ") + sqlite3_errstr(rc));
    (void)src->exec("COMMIT");
    if (stream.head.size() != static_cast<size_t>(stream.page))
      return make_error(Errc::internal, "snapshot: SQLite did not write the first page");
    MV_TRY(sink(0, stream.head));
    return info;
  }

 private:
  // A reader connection, returned to the pool when the handle dies (unless
  // it is the one a read scope pinned to this thread).
  struct ReaderDeleter {
    SqliteStore* s;
    bool pooled = true;
    void operator()(Conn* c) const {
      if (pooled) s->give_back(c);
    }
  };
  using ReaderHandle = std::unique_ptr<Conn, ReaderDeleter>;

  class SqliteReadScope final : public ReadScope {
   public:
    explicit SqliteReadScope(ReaderHandle c) : c_(std::move(c)) {}
    ~SqliteReadScope() override {
      pinned_ = PinnedReader{};
      (void)c_->run("COMMIT");  // ends the read transaction; the connection goes back to the pool
    }

   private:
    ReaderHandle c_;
  };

 public:
  std::unique_ptr<ReadScope> read_scope() override {
    if (pinned_.store == this) return nullptr;  // the outer scope holds
    auto c = reader();
    if (!c.ok() || !(*c)->run("BEGIN").ok()) return nullptr;  // then each read is its own transaction
    pinned_ = {this, c->get()};
    return std::make_unique<SqliteReadScope>(std::move(*c));
  }

 private:
  Result<ReaderHandle> reader() {
    if (pinned_.store == this) return ReaderHandle(pinned_.conn, ReaderDeleter{this, false});
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        Conn* c = pool_.back().release();
        pool_.pop_back();
        return ReaderHandle(c, ReaderDeleter{this});
      }
    }
    MV_ASSIGN(auto c, Conn::open(path_, false));
    return ReaderHandle(c.release(), ReaderDeleter{this});
  }

  void give_back(Conn* c) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_.emplace_back(c);
  }

  static AuditRow row_of(const AuditRowView& v) {
    return AuditRow{v.seq, v.time_ms, std::string(v.patient), std::string(v.user),
                    std::string(v.entry), std::string(v.leaf_hash), std::string(v.chain)};
  }

  // The rows of these entries, in the order given; `match` drops what the
  // index found by a hash collision.
  template <typename Match>
  Result<std::vector<AuditRow>> audit_rows(const std::vector<uint64_t>& seqs, Match match) {
    std::vector<AuditRow> out;
    out.reserve(seqs.size());
    for (uint64_t seq : seqs) {
      bool found = false;
      MV_TRY(audit_->scan(seq, 1, [&](const AuditRowView& v) {
        found = true;
        if (match(v)) out.push_back(row_of(v));
        return false;
      }));
      if (!found) return make_error(Errc::integrity, "audit entry " + std::to_string(seq) + ": missing");
    }
    return out;
  }

  static DekRow read_dek(sqlite3_stmt* st) {
    return DekRow{static_cast<uint64_t>(sqlite3_column_int64(st, 0)), col_text(st, 1),
                  static_cast<uint32_t>(sqlite3_column_int64(st, 2)), col_blob(st, 3)};
  }

  // Runs a cached statement on a reader connection and collects every row.
  template <typename Row, typename Bind, typename Read>
  Result<std::vector<Row>> query_all(const char* sql, const char* what, Bind bind, Read read) {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->stmt(sql));
    Reset r{st};
    bind(st);
    std::vector<Row> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(read(st));
    if (rc != SQLITE_DONE) return db_error(c->db(), what);
    return out;
  }

  template <typename Bind>
  Result<std::optional<DekRow>> one_dek(const char* sql, Bind bind) {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->stmt(sql));
    Reset r{st};
    bind(st);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::optional<DekRow>(read_dek(st));
    if (rc == SQLITE_DONE) return std::optional<DekRow>();
    return db_error(c->db(), "dek");
  }

  Result<uint64_t> count(const char* sql, const std::string& arg) {
    MV_ASSIGN(auto c, reader());
    MV_ASSIGN(sqlite3_stmt * st, c->stmt(sql));
    Reset r{st};
    if (sqlite3_bind_parameter_count(st) > 0) bind_text(st, 1, arg);
    if (sqlite3_step(st) != SQLITE_ROW) return db_error(c->db(), "count");
    return static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  }

  std::string path_;
  std::mutex writer_mu_;
  std::unique_ptr<Conn> writer_;
  std::unique_ptr<AuditFiles> audit_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> pool_;
  GroupSync wal_sync_;
  // Declared last: stopped (joined) first, while the writer it hooks lives.
  std::unique_ptr<Checkpointer> checkpointer_;
};


// Schema 0005: the rows of the audit table move to the log's files, synced,
// inside the migration's transaction (the table is dropped by its SQL). Files
// left by an interrupted attempt are not yet the log: they are rewritten.
Status move_audit_table(Conn& c, AuditFiles& files) {
  MV_TRY(files.remove_all());
  OwnedStmt os;
  if (sqlite3_prepare_v2(c.db(), "SELECT seq,time,patient,user,entry,leaf_hash,chain FROM audit ORDER BY seq", -1,
                         &os.st, nullptr) != SQLITE_OK)
    return db_error(c.db(), "move the audit log");
  std::vector<AuditRow> batch;
  int rc;
  while ((rc = sqlite3_step(os.st)) == SQLITE_ROW) {
    batch.push_back(read_audit(os.st));
    if (batch.size() == 10000) {
      MV_TRY(files.append(batch));
      batch.clear();
    }
  }
  if (rc != SQLITE_DONE) return db_error(c.db(), "move the audit log");
  MV_TRY(files.append(batch));
  return files.sync();
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite(const std::filesystem::path& path) {
  MV_ASSIGN(auto writer, Conn::open(path.string(), true));
  MV_ASSIGN(auto audit, AuditFiles::open(path.string() + "-audit"));
  MV_TRY(apply_sqlite_migrations(writer->db(), [&](int v) {
    return v == kAuditFilesMigration ? move_audit_table(*writer, *audit) : ok_status();
  }));
  // A power cut may have torn the end of the log: repaired under the write
  // lock (no other process is appending), after the newest checkpoint only.
  {
    MV_TRY(writer->run("BEGIN IMMEDIATE"));
    auto repaired = [&]() -> Result<uint64_t> {
      OwnedStmt os;
      if (sqlite3_prepare_v2(writer->db(), "SELECT COALESCE(MAX(size),0) FROM audit_checkpoint", -1, &os.st,
                             nullptr) != SQLITE_OK ||
          sqlite3_step(os.st) != SQLITE_ROW)
        return db_error(writer->db(), "audit checkpoints");
      MV_TRY(audit->refresh());
      return audit->repair_tail(static_cast<uint64_t>(sqlite3_column_int64(os.st, 0)));
    }();
    (void)writer->run("ROLLBACK");
    if (!repaired.ok()) return repaired.error();
  }
  auto store = std::make_unique<SqliteStore>(path.string(), std::move(writer), std::move(audit));
  MV_TRY(store->sync());  // migrations (and a new file) are durable before use
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace medvault::store
