// Issue 2, "Speed": medvault's import and read paths measured against plain
// SQLite doing the same I/O, in the same run (bench/run.sh turns the JSON
// output into BENCHMARKS.md).
//
// Plain SQLite here means one table t(type, id, body), WITHOUT ROWID on
// (type, id) or a rowid table with a UNIQUE (type, id) index (see Variant),
// opened with the PRAGMAs of src/store/sqlite_store.cc (WAL,
// synchronous=FULL, secure_delete, temp_store=MEMORY, 64 MiB cache, mmap):
// what the same bytes cost on the same disk without medvault.
//
// Data: medvault::demo::generate (MEDVAULT_BENCH_PATIENTS patients, default
// 100, about 10k resources). Every database lives in a fresh directory under
// MEDVAULT_BENCH_TMPDIR (default: the system temp directory), removed after;
// point it at the disk you want to measure (bench/run.sh uses the build
// directory, not a tmpfs).
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "audit/log.h"
#include "crypto/aead.h"
#include "crypto/secret.h"
#include "demo/generator.h"
#include "fhir/resource.h"
#include "store/store.h"
#include "vault/vault.h"

namespace medvault::bench {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBatch = 1000;       // rows per transaction, both sides
constexpr size_t kWideRow = 2048;     // the 2 KiB-row variant
const char* const kPassphrase = "benchmark passphrase, not a secret";

// A fresh directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("MEDVAULT_BENCH_TMPDIR");
    fs::path root = base && *base ? fs::path(base) : fs::temp_directory_path();
    fs::create_directories(root);
    std::string tmpl = (root / "mv-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The demo resources, serialized once (not timed).
struct Corpus {
  std::vector<std::string> json;
  std::vector<std::string> type, id;
  std::vector<std::string> wide;  // kWideRow random bytes per row (same keys)
  size_t bytes = 0;
};

const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus c;
    demo::Options o;
    const char* p = std::getenv("MEDVAULT_BENCH_PATIENTS");
    o.patients = p && *p ? std::strtoull(p, nullptr, 10) : 100;
    o.seed = 1;
    demo::generate(o, [&](std::string_view j) {
      auto r = fhir::parse_resource(j);
      if (!r.ok()) throw std::runtime_error("demo resource does not parse");
      c.json.emplace_back(j);
      c.type.push_back(r->type);
      c.id.push_back(r->id);
      c.bytes += j.size();
    });
    std::mt19937_64 rng(42);
    c.wide.resize(c.json.size());
    for (auto& w : c.wide) {
      w.resize(kWideRow);
      for (auto& ch : w) ch = static_cast<char>(rng());
    }
    return c;
  }();
  return c;
}

// Rows of the plain-SQLite runs: the demo resources' bytes or 2 KiB rows, in
// a WITHOUT ROWID table clustered on (type, id) (the layout the vault's
// resource_version uses) or in a rowid table with a UNIQUE (type, id) index
// (rows appended in insertion order; only the small index takes the random
// UUID keys).
enum Variant : int64_t { kDemoRows = 0, kWideRows = 1, kDemoRowsRowid = 2 };
const std::string& body_of(const Corpus& c, size_t i, int64_t variant) {
  return variant == kWideRows ? c.wide[i] : c.json[i];
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "vault_bench: %s\n", what.c_str());
  std::exit(1);
}

// ---------------------------------------------------------------- plain SQLite

class PlainDb {
 public:
  PlainDb(const fs::path& file, bool rowid) {
    if (sqlite3_open_v2(file.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
      die("cannot open plain SQLite database");
    // The PRAGMAs of src/store/sqlite_store.cc.
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
         "PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;");
    exec(rowid ? "CREATE TABLE t (type TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL,"
                 " UNIQUE (type, id));"
               : "CREATE TABLE t (type TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL,"
                 " PRIMARY KEY (type, id)) WITHOUT ROWID;");
    ins_ = prepare("INSERT INTO t(type, id, body) VALUES (?1, ?2, ?3)");
    sel_ = prepare("SELECT body FROM t WHERE type=?1 AND id=?2");
  }
  ~PlainDb() {
    sqlite3_finalize(ins_);
    sqlite3_finalize(sel_);
    sqlite3_close_v2(db_);
  }
  PlainDb(const PlainDb&) = delete;
  PlainDb& operator=(const PlainDb&) = delete;

  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      die(std::string("plain SQLite: ") + sqlite3_errmsg(db_));
  }

  // Every row of the corpus, kBatch rows per transaction.
  void insert_all(const Corpus& c, int64_t variant) {
    for (size_t i = 0; i < c.json.size(); i += kBatch) {
      exec("BEGIN IMMEDIATE");
      for (size_t j = i; j < std::min(i + kBatch, c.json.size()); ++j) {
        const std::string& body = body_of(c, j, variant);
        sqlite3_bind_text(ins_, 1, c.type[j].data(), static_cast<int>(c.type[j].size()), SQLITE_STATIC);
        sqlite3_bind_text(ins_, 2, c.id[j].data(), static_cast<int>(c.id[j].size()), SQLITE_STATIC);
        sqlite3_bind_blob(ins_, 3, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
        if (sqlite3_step(ins_) != SQLITE_DONE) die(std::string("insert: ") + sqlite3_errmsg(db_));
        sqlite3_reset(ins_);
      }
      exec("COMMIT");
    }
  }

  // The body of one row, copied out (as the store copies it into a VersionRow).
  std::string get(const std::string& type, const std::string& id) {
    sqlite3_bind_text(sel_, 1, type.data(), static_cast<int>(type.size()), SQLITE_STATIC);
    sqlite3_bind_text(sel_, 2, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    if (sqlite3_step(sel_) != SQLITE_ROW) die("point read: row missing");
    std::string out(static_cast<const char*>(sqlite3_column_blob(sel_, 0)),
                    static_cast<size_t>(sqlite3_column_bytes(sel_, 0)));
    sqlite3_reset(sel_);
    return out;
  }

 private:
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
      die(std::string("prepare: ") + sqlite3_errmsg(db_));
    return st;
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* ins_ = nullptr;
  sqlite3_stmt* sel_ = nullptr;
};

void report_rate(benchmark::State& state, size_t rows, size_t bytes) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

// Batched inserts of the same bytes medvault imports (demo rows) or of 2 KiB
// rows, into an empty database.
void BM_PlainSqliteImport(benchmark::State& state) {
  const Corpus& c = corpus();
  const int64_t variant = state.range(0);
  size_t bytes = 0;
  for (size_t i = 0; i < c.json.size(); ++i) bytes += body_of(c, i, variant).size();
  for (auto _ : state) {
    state.PauseTiming();
    {
      TempDir dir;
      PlainDb db(dir.path() / "plain.db", variant == kDemoRowsRowid);
      state.ResumeTiming();
      db.insert_all(c, variant);
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  report_rate(state, c.json.size(), bytes);
}

// ---------------------------------------------------------------- vault

vault::RequestContext system_ctx() {
  vault::RequestContext ctx;
  ctx.subject = {"system", "system", {}};
  return ctx;
}

std::unique_ptr<vault::Vault> new_vault(const fs::path& dir) {
  vault::InitOptions o;
  o.dir = dir;
  o.passphrase = crypto::SecretString(kPassphrase);
  o.argon2 = crypto::Argon2Params::interactive();
  if (auto st = vault::Vault::init(o); !st.ok()) die("vault init: " + st.error().message);
  vault::Unsealer u;
  u.passphrase = crypto::SecretString(kPassphrase);
  auto v = vault::Vault::open(dir, u);
  if (!v.ok()) die("vault open: " + v.error().message);
  return std::move(v).value();
}

// medvault's import path, as `medvault import` runs it: parse, validate,
// Repository::import_batch (encryption, blind indexes, audit entries) in
// batches of kBatch.
void import_corpus(vault::Repository& repo, const Corpus& c) {
  const auto ctx = system_ctx();
  std::vector<fhir::Resource> batch;
  batch.reserve(kBatch);
  auto flush = [&] {
    auto st = repo.import_batch(ctx, std::move(batch));
    if (!st.ok()) die("import_batch: " + st.error().message);
    batch.clear();
  };
  for (const auto& j : c.json) {
    auto r = fhir::parse_resource(j);
    if (!r.ok()) die("parse_resource: " + r.error().message);
    if (auto v = fhir::validate(*r); !v.ok()) die("validate: " + v.error().message);
    batch.push_back(std::move(r).value());
    if (batch.size() == kBatch) flush();
  }
  if (!batch.empty()) flush();
}

void BM_VaultImport(benchmark::State& state) {
  const Corpus& c = corpus();
  for (auto _ : state) {
    state.PauseTiming();
    {
      TempDir dir;
      auto v = new_vault(dir.path() / "v");
      state.ResumeTiming();
      import_corpus(v->repository(), c);
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  report_rate(state, c.json.size(), c.bytes);
}

// ---------------------------------------------------------------- warm stores

// Random row indexes, one stream per thread.
class Picker {
 public:
  Picker(int thread, size_t n) : rng_(1000 + static_cast<uint64_t>(thread)), n_(n) {}
  size_t next() { return static_cast<size_t>(rng_() % n_); }

 private:
  std::mt19937_64 rng_;
  size_t n_;
};

struct WarmPlain {
  TempDir dir;
  std::unique_ptr<PlainDb> db;
};
PlainDb& warm_plain(int64_t variant) {
  static WarmPlain w[3];
  auto& x = w[variant];
  if (!x.db) {
    const Corpus& c = corpus();
    x.db = std::make_unique<PlainDb>(x.dir.path() / "plain.db", variant == kDemoRowsRowid);
    x.db->insert_all(c, variant);
    for (size_t i = 0; i < c.json.size(); ++i) benchmark::DoNotOptimize(x.db->get(c.type[i], c.id[i]));
  }
  return *x.db;
}

void BM_PlainSqlitePointRead(benchmark::State& state) {
  const Corpus& c = corpus();
  PlainDb& db = warm_plain(state.range(0));
  Picker pick(state.thread_index(), c.json.size());
  for (auto _ : state) {
    size_t i = pick.next();
    benchmark::DoNotOptimize(db.get(c.type[i], c.id[i]));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// The vault's read path minus policy and audit: store::Store::current() (the
// engine and statements the vault uses) + crypto::open() under a data key
// with the record's associated data. Rows are written through a store
// Transaction as the vault writes them.
struct WarmStore {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  crypto::SecretKey key = crypto::SecretKey::random();
};
WarmStore& warm_store() {
  static WarmStore w;
  if (!w.store) {
    const Corpus& c = corpus();
    auto s = store::open_sqlite(w.dir.path() / "store.db");
    if (!s.ok()) die("open_sqlite: " + s.error().message);
    w.store = std::move(s).value();
    constexpr uint64_t kKeyId = 1;
    for (size_t i = 0; i < c.json.size(); i += kBatch) {
      auto txn = w.store->begin();
      if (!txn.ok()) die("begin: " + txn.error().message);
      for (size_t j = i; j < std::min(i + kBatch, c.json.size()); ++j) {
        store::VersionRow row;
        row.type = c.type[j];
        row.id = c.id[j];
        row.version = 1;
        row.key_id = kKeyId;
        row.last_updated_ms = demo::kDefaultNowMs;
        row.body = crypto::seal(w.key, crypto::record_ad(row.type, row.id, 1, kKeyId), c.json[j]);
        if (auto st = (*txn)->put_version(row); !st.ok()) die("put_version: " + st.error().message);
      }
      if (auto st = (*txn)->commit(); !st.ok()) die("commit: " + st.error().message);
    }
    for (size_t i = 0; i < c.json.size(); ++i)
      benchmark::DoNotOptimize(w.store->current(c.type[i], c.id[i]));
  }
  return w;
}

void BM_StoreDecryptRead(benchmark::State& state) {
  const Corpus& c = corpus();
  WarmStore& w = warm_store();
  Picker pick(state.thread_index(), c.json.size());
  for (auto _ : state) {
    size_t i = pick.next();
    auto row = w.store->current(c.type[i], c.id[i]);
    if (!row.ok() || !*row) {
      state.SkipWithError("store read failed");
      break;
    }
    const auto& r = **row;
    auto pt = crypto::open(w.key, crypto::record_ad(r.type, r.id, r.version, r.key_id), r.body);
    if (!pt.ok()) {
      state.SkipWithError("decrypt failed");
      break;
    }
    benchmark::DoNotOptimize(pt->data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// A vault holding the corpus, shared by the Repository::read runs.
struct WarmVault {
  TempDir dir;
  std::unique_ptr<vault::Vault> vault;
};
vault::Vault& warm_vault() {
  static WarmVault w;
  if (!w.vault) {
    w.vault = new_vault(w.dir.path() / "v");
    import_corpus(w.vault->repository(), corpus());
  }
  return *w.vault;
}

// The public read: policy decision, store read, decrypt, and the durable
// (fsync'ed, group-committed) audit entry written before the data is returned.
void BM_RepositoryRead(benchmark::State& state) {
  const Corpus& c = corpus();
  vault::Repository& repo = warm_vault().repository();
  const auto ctx = system_ctx();
  Picker pick(state.thread_index(), c.json.size());
  for (auto _ : state) {
    size_t i = pick.next();
    auto r = repo.read(ctx, c.type[i], c.id[i]);
    if (!r.ok()) {
      state.SkipWithError("Repository::read failed");
      break;
    }
    benchmark::DoNotOptimize(r->json.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// ---------------------------------------------------------------- audit

struct AuditFixture {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<audit::Log> log;
};
AuditFixture& audit_fixture() {
  // Initialised once even when the first caller is one of many benchmark
  // threads (a function-local static's initialiser runs exactly once).
  static const std::unique_ptr<AuditFixture> f = [] {
    auto fx = std::make_unique<AuditFixture>();
    auto s = store::open_sqlite(fx->dir.path() / "audit.db");
    if (!s.ok()) die("open_sqlite: " + s.error().message);
    fx->store = std::move(s).value();
    audit::LogKeys keys{crypto::SecretKey::random(), crypto::SecretKey::random(),
                        crypto::SecretKey::random()};
    audit::LogOptions opt;
    opt.origin = "medvault.local/bench";
    auto l = audit::Log::open(*fx->store, std::move(keys), opt);
    if (!l.ok()) die("audit open: " + l.error().message);
    fx->log = std::move(l).value();
    return fx;
  }();
  return *f;
}
audit::Log& audit_log() { return *audit_fixture().log; }

// audit::Log::append: durable, group-committed (one transaction and fsync for
// every entry queued while the previous batch was being written).
void BM_AuditAppend(benchmark::State& state) {
  const Corpus& c = corpus();
  audit::Log& log = audit_log();
  Picker pick(state.thread_index(), c.json.size());
  for (auto _ : state) {
    size_t i = pick.next();
    audit::Entry e;
    e.time_ms = demo::kDefaultNowMs;
    e.user = "dr-bench";
    e.role = "physician";
    e.action = "read";
    e.type = c.type[i];
    e.id = c.id[i];
    e.patient = "p" + std::to_string(i % 100);
    e.purpose = "TREAT";
    e.explanation = "role physician";
    e.address = "127.0.0.1";
    e.outcome = "0";
    if (!log.append(std::move(e)).ok()) {
      state.SkipWithError("audit append failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Entries first .. first+n-1 of a synthetic log: five users, reads and
// searches, `patients` distinct patients (what spreads the query indexes).
std::vector<audit::Entry> sample_entries(uint64_t first, size_t n, uint64_t patients) {
  std::vector<audit::Entry> entries(n);
  for (size_t i = 0; i < n; ++i) {
    auto& e = entries[i];
    const uint64_t k = first + i;
    e.time_ms = demo::kDefaultNowMs + static_cast<int64_t>(k);
    e.user = "dr-bench-" + std::to_string(k % 5);
    e.role = "physician";
    e.action = k % 3 ? "read" : "search";
    e.type = "Observation";
    e.id = "obs-" + std::to_string(k);
    e.patient = "p" + std::to_string(k % patients);
    e.purpose = "TREAT";
    e.explanation = "role physician";
    e.address = "127.0.0.1";
    e.outcome = "0";
  }
  return entries;
}

// One transaction appending `entries` to the log (as a group commit does).
bool add_entries(audit::Log& log, store::Store& st, std::vector<audit::Entry> entries) {
  auto txn = st.begin();
  const bool ok = txn.ok() && log.add(**txn, std::move(entries)).ok() && (*txn)->commit().ok();
  log.after_commit(ok);
  return ok;
}

// The leader's share of a group commit: one transaction of 256 entries
// (chain, tree, rows, fsync), i.e. the ceiling of append() on one core.
void BM_AuditBatchWrite(benchmark::State& state) {
  audit::Log& log = audit_log();
  store::Store& st = *audit_fixture().store;
  const size_t batch = static_cast<size_t>(state.range(0));
  uint64_t first = 0;
  for (auto _ : state) {
    const bool ok = add_entries(log, st, sample_entries(first, batch, 100));
    first += batch;
    if (!ok) {
      state.SkipWithError("audit batch failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(batch));
}

int64_t env_int(const char* name, int64_t dflt);

// `audit verify` over a large log (issue target: 10 million entries in under
// 30 s): every leaf hash, index column, MAC link, the tree and every
// checkpoint signature (one per 1,000 entries). The log is built untimed, in
// transactions of 10,000 entries.
void BM_AuditVerify(benchmark::State& state) {
  const auto n = static_cast<uint64_t>(state.range(0));
  TempDir dir;
  auto s = store::open_sqlite(dir.path() / "verify.db");
  if (!s.ok()) die("open_sqlite: " + s.error().message);
  auto st = std::move(s).value();
  audit::LogOptions opt;
  opt.origin = "medvault.local/bench";
  auto l = audit::Log::open(*st,
                            audit::LogKeys{crypto::SecretKey::random(), crypto::SecretKey::random(),
                                           crypto::SecretKey::random()},
                            opt);
  if (!l.ok()) die("audit open: " + l.error().message);
  auto& log = **l;
  constexpr uint64_t kTxn = 10000;
  for (uint64_t first = 0; first < n; first += kTxn) {
    const bool ok = add_entries(log, *st, sample_entries(first, std::min(kTxn, n - first), 1000));
    if (!ok) die("audit verify bench: building the log failed");
  }
  for (auto _ : state) {
    auto rep = log.verify();
    if (!rep.ok() || rep->entries != n) {
      state.SkipWithError("audit verify failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

int64_t env_int(const char* name, int64_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : dflt;
}

void register_all() {
  const int64_t import_iters = env_int("MEDVAULT_BENCH_IMPORT_ITERS", 3);
  benchmark::RegisterBenchmark("PlainSqliteImport/demo_rows", BM_PlainSqliteImport)
      ->Arg(kDemoRows)->Iterations(import_iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("PlainSqliteImport/demo_rows_rowid", BM_PlainSqliteImport)
      ->Arg(kDemoRowsRowid)->Iterations(import_iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("PlainSqliteImport/2KiB_rows", BM_PlainSqliteImport)
      ->Arg(kWideRows)->Iterations(import_iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("VaultImport", BM_VaultImport)
      ->Iterations(import_iters)->UseRealTime()->Unit(benchmark::kMillisecond);

  benchmark::RegisterBenchmark("PlainSqlitePointRead/demo_rows", BM_PlainSqlitePointRead)
      ->Arg(kDemoRows)->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("PlainSqlitePointRead/demo_rows_rowid", BM_PlainSqlitePointRead)
      ->Arg(kDemoRowsRowid)->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("PlainSqlitePointRead/2KiB_rows", BM_PlainSqlitePointRead)
      ->Arg(kWideRows)->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("StoreDecryptRead", BM_StoreDecryptRead)
      ->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("RepositoryRead", BM_RepositoryRead)
      ->Threads(1)->Threads(2)->Threads(8)->UseRealTime()->Unit(benchmark::kMicrosecond);

  benchmark::RegisterBenchmark("AuditAppend", BM_AuditAppend)
      ->Threads(1)->Threads(8)->Threads(64)->Threads(256)->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("AuditVerify", BM_AuditVerify)
      ->Arg(env_int("MEDVAULT_BENCH_VERIFY_ENTRIES", 10'000'000))
      ->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("AuditBatchWrite", BM_AuditBatchWrite)
      ->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace medvault::bench

int main(int argc, char** argv) {
  if (!medvault::crypto::init()) {
    std::fprintf(stderr, "vault_bench: libsodium initialisation failed\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const auto& c = medvault::bench::corpus();
  benchmark::AddCustomContext("resources", std::to_string(c.json.size()));
  benchmark::AddCustomContext("mean_resource_bytes", std::to_string(c.bytes / c.json.size()));
  benchmark::AddCustomContext("batch", std::to_string(medvault::bench::kBatch));
  benchmark::AddCustomContext("sqlite", sqlite3_libversion());
  medvault::bench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
