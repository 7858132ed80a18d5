#include "backup/backup.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "common/clock.h"
#include "common/file.h"
#include "crypto/aead.h"
#include "crypto/seal.h"

namespace medvault::backup {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kChunkMagic = "MVC1";
constexpr size_t kSealedKeySize = crypto_box_SEALBYTES + crypto::SecretKey::kSize;  // 80
constexpr size_t kMaxChunkObject = 2 * kMaxChunkSize;
// The files of a vault directory that a backup holds besides vault.db.
constexpr const char* kExtraFiles[] = {"tls/cert.pem", "tls/key.pem"};

std::string hex(const unsigned char* p, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

std::string chunk_ad(std::string_view id_hex, std::string_view sealed_key) {
  std::string ad = "medvault-backup-chunk-v1";
  auto put = [&](std::string_view f) {
    for (int i = 0; i < 8; ++i) ad.push_back(static_cast<char>((f.size() >> (8 * i)) & 0xff));
    ad.append(f);
  };
  put(id_hex);
  put(sealed_key);
  return ad;
}

// Sub-keys of the vault's backup dedup key: 1 keys the chunk ids, 2 the
// chunker's gear table.
crypto::SecretKey dedup_subkey(const crypto::SecretKey& dedup, uint64_t id) {
  crypto::SecretKey k;
  crypto_kdf_derive_from_key(k.data(), crypto::SecretKey::kSize, id, "mvbkdedu", dedup.data());
  return k;
}

struct Chain {
  std::map<uint64_t, std::string> manifest_bytes;  // seq -> file bytes (as named)
  std::map<uint64_t, std::string> tomb_bytes;
  std::vector<std::string> problems;
};

Result<Chain> load_chain(Target& t) {
  Chain c;
  MV_ASSIGN(auto names, t.list("manifests"));
  for (const auto& n : names) {
    uint64_t seq = seq_of(n);
    if (seq == 0 || n != manifest_name(seq)) {
      c.problems.push_back("unexpected object " + n);
      continue;
    }
    auto bytes = t.get(n, kMaxManifestSize);
    if (!bytes.ok()) {
      c.problems.push_back("manifest " + n + ": " + bytes.error().message);
      continue;
    }
    c.manifest_bytes[seq] = std::move(bytes).value();
  }
  MV_ASSIGN(auto tombs, t.list("pruned"));
  for (const auto& n : tombs) {
    uint64_t seq = seq_of(n);
    if (seq == 0 || n != tombstone_name(seq)) continue;
    auto bytes = t.get(n, 4096);
    if (bytes.ok()) c.tomb_bytes[seq] = std::move(bytes).value();
  }
  return c;
}

// Thread-safe: restore opens chunks on several threads.
class ChunkOpener {
 public:
  explicit ChunkOpener(crypto::SecretKey sk, std::string pk) : sk_(std::move(sk)), pk_(std::move(pk)) {}
  // Decrypts and decompresses a stored chunk object.
  Result<std::string> open(const ChunkRef& ref, std::string_view obj) {
    auto bad = [&](const std::string& why) {
      return make_error(Errc::integrity, "chunk " + ref.id + ": " + why);
    };
    if (obj.size() < kChunkMagic.size() + kSealedKeySize + crypto::kSealOverhead || !obj.starts_with(kChunkMagic))
      return bad("not a chunk object");
    std::string sealed(obj.substr(kChunkMagic.size(), kSealedKeySize));
    const crypto::SecretKey* run_key = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = keys_.find(sealed);
      if (it == keys_.end()) {
        crypto::SecretKey k;
        if (crypto_box_seal_open(k.data(), reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                                 reinterpret_cast<const unsigned char*>(pk_.data()), sk_.data()) != 0)
          return bad("its key cannot be opened with the recovery key");
        it = keys_.emplace(sealed, std::move(k)).first;
      }
      run_key = &it->second;  // std::map: stays valid as others are added
    }
    auto z = crypto::open(*run_key, chunk_ad(ref.id, sealed), obj.substr(kChunkMagic.size() + kSealedKeySize));
    if (!z.ok()) return bad("authentication failed");
    unsigned long long n = ZSTD_getFrameContentSize(z->data(), z->size());
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n != ref.size) return bad("bad compressed size");
    std::string out(ref.size, '\0');
    size_t got = ZSTD_decompress(out.data(), out.size(), z->data(), z->size());
    if (ZSTD_isError(got) || got != ref.size) return bad("cannot be decompressed");
    return out;
  }

 private:
  crypto::SecretKey sk_;
  std::string pk_;
  std::mutex mu_;
  std::map<std::string, crypto::SecretKey> keys_;
};

// SQLite's quick_check of a restored store image: the page structure, without
// the index-to-table cross-check of integrity_check. Every byte was already
// authenticated (chunk AEAD); this catches a manifest that assembles good
// chunks into a bad file. The full vault check is `medvault check`/drill.
// Its own read-only connection, so that it can run beside the caller's check,
// which opens the vault (a writer) on the same file.
Status quick_check(const fs::path& db_path) {
  sqlite3* db = nullptr;
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> owner(nullptr, sqlite3_close_v2);
  int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  owner.reset(db);
  if (rc != SQLITE_OK) return make_error(Errc::integrity, "the restored vault.db cannot be opened");
  sqlite3_busy_timeout(db, 10000);  // the other connection may be recovering the WAL
  std::string first;
  auto cb = [](void* out, int n, char** vals, char**) {
    auto* s = static_cast<std::string*>(out);
    if (s->empty() && n > 0 && vals[0]) *s = vals[0];
    return 0;
  };
  rc = sqlite3_exec(db, "PRAGMA quick_check", cb, &first, nullptr);
  if (rc != SQLITE_OK || first != "ok")
    return make_error(Errc::integrity, "the restored vault.db fails SQLite's quick_check" +
                                           (first.empty() ? std::string() : ": " + first.substr(0, 200)));
  return ok_status();
}

Status pwrite_all(int fd, std::string_view b, uint64_t at, const fs::path& name) {
  while (!b.empty()) {
    ssize_t n = ::pwrite(fd, b.data(), b.size(), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(Errc::io, "cannot write " + name.string() + ": " + std::strerror(errno));
    b.remove_prefix(static_cast<size_t>(n));
    at += static_cast<uint64_t>(n);
  }
  return ok_status();
}

Result<crypto::SecretKey> backup_secret(const Manifest& m, const std::vector<std::string>& shares) {
  return crypto::KeySeal::backup_key_from_shares(m.vault_id, m.recovery_k, m.recovery_n, m.recovery_key, shares);
}

}  // namespace

// ---- create ----------------------------------------------------------------

Result<CreateReport> create_backup(vault::Vault& vault, Target& target, const CreateOptions& opt) {
  MV_ASSIGN(auto keys, vault.backup_keys());
  MV_ASSIGN(auto status, vault.status());
  const std::string my_key = signing_public_key(keys.signing_seed);

  // What the target already holds, from the manifests this vault signed.
  MV_ASSIGN(Chain chain, load_chain(target));
  std::map<std::string, ChunkRef> known;
  uint64_t newest = 0;
  std::string newest_hash;
  for (const auto& [seq, bytes] : chain.manifest_bytes) {
    auto m = parse_manifest(bytes);
    if (!m.ok() || m->seq != seq || m->signing_key != my_key || m->vault_id != status.vault_id) {
      if (seq > newest) newest = seq, newest_hash.clear();  // refused below
      continue;
    }
    for (const auto& f : m->files)
      for (const auto& c : f.chunks) known.emplace(c.id, c);
    if (seq > newest) newest = seq, newest_hash = object_hash(bytes);
  }
  for (const auto& [seq, bytes] : chain.tomb_bytes)
    if (seq > newest) return make_error(Errc::integrity, "the target's newest manifest was pruned; run backup verify");
  if (newest != 0 && newest_hash.empty())
    return make_error(Errc::integrity, "the target's newest manifest " + manifest_name(newest) +
                                           " is not a valid manifest of this vault; run backup verify");
  MV_ASSIGN(auto record, vault.backup_record());
  if (record) {
    uint64_t rseq = std::strtoull(record->c_str(), nullptr, 10);
    std::string rhash = record->size() > 11 ? record->substr(11) : "";
    // Another target can lag (a new disk); the record is for the last target
    // written, so only a same-sequence mismatch proves tampering here.
    if (rseq == newest && rhash != newest_hash)
      return make_error(Errc::integrity, "the target's manifest " + manifest_name(newest) +
                                             " differs from the one this vault wrote");
  }

  // This run's chunk key, sealed to the recovery public key: the server
  // forgets it after the run and cannot read the chunks again.
  auto run_key = crypto::SecretKey::random();
  std::string sealed(kSealedKeySize, '\0');
  crypto_box_seal(reinterpret_cast<unsigned char*>(sealed.data()), run_key.data(), crypto::SecretKey::kSize,
                  reinterpret_cast<const unsigned char*>(keys.recovery_public_key.data()));
  const auto id_key = dedup_subkey(keys.dedup_key, 1);
  const auto gear_key = dedup_subkey(keys.dedup_key, 2);

  CreateReport rep;
  Manifest m;
  std::error_code ec;
  const uint64_t expected = fs::file_size(vault.dir() / "vault.db", ec);

  // New chunks are compressed and sealed on worker threads, a few at a time,
  // while this thread chunks, hashes and writes to the target in order.
  struct Sealed {
    std::string obj, hash;
  };
  struct InFlight {
    FileEntry* file;
    size_t index;  // in file->chunks
    std::future<Result<Sealed>> sealed;
  };
  const int level = opt.zstd_level;
  auto seal_chunk = [&run_key, &sealed, level](std::string id, std::string data) -> Result<Sealed> {
    std::string z(ZSTD_compressBound(data.size()), '\0');
    size_t zn = ZSTD_compress(z.data(), z.size(), data.data(), data.size(), level);
    if (ZSTD_isError(zn)) return make_error(Errc::internal, std::string("zstd: ") + ZSTD_getErrorName(zn));
    Sealed out;
    out.obj.reserve(kChunkMagic.size() + sealed.size() + zn + crypto::kSealOverhead);
    out.obj = kChunkMagic;
    out.obj += sealed;
    out.obj += crypto::seal(run_key, chunk_ad(id, sealed), {z.data(), zn});
    out.hash = object_hash(out.obj);
    return out;
  };
  const size_t window = std::max(2u, std::thread::hardware_concurrency());
  std::deque<InFlight> inflight;
  std::set<std::string> pending;  // ids in flight
  auto complete_one = [&]() -> Status {
    InFlight job = std::move(inflight.front());
    inflight.pop_front();
    Result<Sealed> got = make_error(Errc::internal, "out of memory sealing a chunk");
    try {
      got = job.sealed.get();
    } catch (const std::exception&) {  // bad_alloc in the worker
    }
    MV_ASSIGN(Sealed s, std::move(got));
    ChunkRef& ref = job.file->chunks[job.index];
    ref.stored = s.obj.size();
    ref.hash = std::move(s.hash);
    MV_TRY(target.put_unsynced(chunk_name(ref.id), s.obj));
    rep.new_bytes += ref.size;
    rep.new_stored += ref.stored;
    ++rep.new_chunks;
    pending.erase(ref.id);
    known.emplace(ref.id, ref);
    return ok_status();
  };
  auto drain = [&]() -> Status {
    while (!inflight.empty()) MV_TRY(complete_one());
    return ok_status();
  };

  auto add_chunk = [&](FileEntry& f, std::string_view data) -> Status {
    unsigned char h[32];
    crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(data.data()), data.size(), id_key.data(),
                       crypto::SecretKey::kSize);
    ChunkRef ref;
    ref.id = hex(h, sizeof h);
    ref.size = data.size();
    rep.bytes += data.size();
    ++rep.chunks;
    f.size += data.size();
    if (pending.count(ref.id)) MV_TRY(drain());  // the same chunk twice in a run: rare
    if (auto it = known.find(ref.id); it != known.end()) {
      f.chunks.push_back(it->second);
      return ok_status();
    }
    if (inflight.size() >= window) MV_TRY(complete_one());
    try {
      inflight.push_back({&f, f.chunks.size(), std::async(std::launch::async, seal_chunk, ref.id, std::string(data))});
    } catch (const std::exception&) {  // no thread (system_error) or no memory
      return make_error(Errc::internal, "cannot start a compression thread");
    }
    pending.insert(ref.id);
    f.chunks.push_back(std::move(ref));
    return ok_status();
  };

  auto add_file = [&](const std::string& name, std::string_view bytes) -> Status {
    FileEntry f;
    f.name = name;
    Chunker ch(opt.chunker, gear_key, [&](std::string_view c) { return add_chunk(f, c); });
    MV_TRY(ch.add(bytes));
    MV_TRY(ch.finish());
    MV_TRY(drain());
    m.files.push_back(std::move(f));
    return ok_status();
  };

  // A file that only grows (an audit segment): its first `bytes` bytes, read
  // in 1 MiB pieces.
  auto add_prefix = [&](const std::string& name, const fs::path& path, uint64_t bytes) -> Status {
    FileEntry f;
    f.name = name;
    Chunker ch(opt.chunker, gear_key, [&](std::string_view c) { return add_chunk(f, c); });
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(Errc::io, "cannot read " + name + ": " + std::strerror(errno));
    std::string buf(std::min<uint64_t>(bytes, 1 << 20), '\0');
    Status st = ok_status();
    for (uint64_t at = 0; st.ok() && at < bytes;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(bytes - at, buf.size()));
      const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(at));
      if (n <= 0) {
        st = make_error(Errc::io, name + " is shorter than the snapshot says");
        break;
      }
      st = ch.add({buf.data(), static_cast<size_t>(n)});
      at += static_cast<uint64_t>(n);
    }
    ::close(fd);
    MV_TRY(st);
    MV_TRY(ch.finish());
    MV_TRY(drain());
    m.files.push_back(std::move(f));
    return ok_status();
  };

  {
    FileEntry db;
    db.name = "vault.db";
    // Three stages on (at least) two cores: this thread runs the store's
    // copy and queues its bytes; the chunker's thread cuts, hashes and
    // writes chunks (add_chunk and everything it touches is that thread's
    // until finish() joins it); the workers compress and seal.
    ThreadedChunker ch(opt.chunker, gear_key, [&](std::string_view c) -> Status {
      MV_TRY(add_chunk(db, c));
      if (opt.progress) opt.progress(db.size, std::max<uint64_t>(expected, db.size));
      return ok_status();
    });
    vault::RequestContext ctx;
    ctx.subject.user = "system";
    ctx.subject.role = "system";
    ctx.purpose = "HOPERAT";
    ctx.address = "cli";
    // The store's image arrives in order, except a head [0, h) that may
    // come last (store::Store::snapshot): it becomes the file's first
    // chunk, alone.
    std::string head;
    std::optional<uint64_t> body_start;
    uint64_t next = 0;
    MV_ASSIGN(auto snap, vault.snapshot(ctx, [&](uint64_t off, std::string_view piece) -> Status {
      if (!body_start) body_start = next = off;
      if (off == next && (off != 0 || *body_start == 0)) {
        next += piece.size();
        return ch.add(piece);
      }
      if (off == 0 && head.empty() && piece.size() == *body_start) {
        head.assign(piece);
        return ok_status();
      }
      return make_error(Errc::internal, "the store's snapshot came out of order");
    }));
    if (body_start && *body_start > 0 && head.empty())
      return make_error(Errc::internal, "the store's snapshot lacks its head");
    MV_TRY(ch.finish());
    if (!head.empty()) {
      MV_TRY(add_chunk(db, head));
      MV_TRY(drain());  // nothing in flight refers to a chunk's index now
      std::rotate(db.chunks.begin(), db.chunks.end() - 1, db.chunks.end());
    }
    MV_TRY(drain());
    m.files.push_back(std::move(db));
    // The audit log's segments, as far as the copy's entries go.
    for (const auto& sf : snap.files) MV_TRY(add_prefix(sf.name, sf.path, sf.bytes));
    MV_TRY(add_file("master.seal", snap.seal));
    m.audit_size = snap.audit_size;
    m.audit_root = snap.audit_root;
    rep.audit_size = snap.audit_size;
  }
  for (const char* extra : kExtraFiles) {
    if (!fs::exists(vault.dir() / extra, ec)) continue;
    MV_ASSIGN(auto bytes, read_file(vault.dir() / extra, 1 << 20));
    MV_TRY(add_file(extra, bytes));
  }

  m.seq = newest + 1;
  m.vault_id = status.vault_id;
  m.created_ms = SystemClock::instance().now_ms();
  m.prev = newest_hash;
  m.recovery_key = keys.recovery_public_key;
  m.recovery_k = status.recovery_threshold;
  m.recovery_n = status.recovery_shares;
  m.new_chunks = rep.new_chunks;
  m.new_stored = rep.new_stored;
  const std::string bytes = sign_manifest(std::move(m), keys.signing_seed);
  MV_TRY(target.sync());  // every chunk durable before the manifest names it
  MV_TRY(target.put(manifest_name(newest + 1), bytes));
  char rec[32];
  std::snprintf(rec, sizeof rec, "%010llu ", static_cast<unsigned long long>(newest + 1));
  MV_TRY(vault.set_backup_record(rec + object_hash(bytes)));
  rep.seq = newest + 1;
  return rep;
}

// ---- verify ----------------------------------------------------------------

Result<VerifyReport> verify_backup(Target& target, const VerifyOptions& opt) {
  VerifyReport rep;
  MV_ASSIGN(Chain chain, load_chain(target));
  auto& problems = chain.problems;
  if (chain.manifest_bytes.empty() && problems.empty())
    return make_error(Errc::not_found, "no backup in " + target.describe());

  std::map<uint64_t, Manifest> valid;
  std::map<uint64_t, std::string> hashes;
  for (const auto& [seq, bytes] : chain.manifest_bytes) {
    hashes[seq] = object_hash(bytes);
    auto m = parse_manifest(bytes);
    if (!m.ok()) {
      problems.push_back("manifest " + manifest_name(seq) + ": " + m.error().message);
      continue;
    }
    if (m->seq != seq) {
      problems.push_back("manifest " + manifest_name(seq) + " holds manifest " + std::to_string(m->seq) +
                         " (an older manifest put back: rolled back or swapped)");
      continue;
    }
    valid.emplace(seq, std::move(m).value());
  }
  const uint64_t newest = chain.manifest_bytes.empty() ? 0 : chain.manifest_bytes.rbegin()->first;
  rep.newest = newest;
  // The newest manifest's key is pinned: every older link must carry it.
  std::string pinned;
  if (auto it = valid.find(newest); it != valid.end()) pinned = it->second.signing_key;
  for (const auto& [seq, m] : valid)
    if (!pinned.empty() && m.signing_key != pinned)
      problems.push_back("manifest " + manifest_name(seq) + " is signed by another key");

  // The chain, from the newest down: each link is the previous manifest, or
  // a signed prune record of it.
  std::string want = newest && valid.count(newest) ? valid.at(newest).prev : "";
  for (uint64_t seq = newest; seq-- > 1 && valid.count(newest);) {
    if (chain.manifest_bytes.count(seq)) {
      if (hashes[seq] != want) {
        problems.push_back("manifest " + manifest_name(seq) + " does not match the hash manifest " +
                           manifest_name(seq + 1) + " records (altered or swapped)");
        break;
      }
      if (!valid.count(seq)) break;  // already reported
      want = valid.at(seq).prev;
      continue;
    }
    if (auto t = chain.tomb_bytes.find(seq); t != chain.tomb_bytes.end()) {
      auto tomb = parse_tombstone(t->second);
      if (!tomb.ok() || tomb->seq != seq || tomb->signing_key != pinned || tomb->hash != want) {
        problems.push_back("prune record " + tombstone_name(seq) + " is not valid");
        break;
      }
      want = tomb->prev;
      continue;
    }
    problems.push_back("manifest " + manifest_name(seq) + " is missing (deleted)");
    break;
  }
  if (opt.last_written) {
    uint64_t rseq = std::strtoull(opt.last_written->c_str(), nullptr, 10);
    std::string rhash = opt.last_written->size() > 11 ? opt.last_written->substr(11) : "";
    if (rseq > newest)
      problems.push_back("manifest " + manifest_name(rseq) +
                         ", the last one this vault wrote, is missing (the target was rolled back)");
    else if (hashes.count(rseq) && hashes[rseq] != rhash)
      problems.push_back("manifest " + manifest_name(rseq) + " is not the one this vault wrote");
  }
  rep.manifests = valid.size();

  // Every referenced chunk: present, and its stored bytes are those signed.
  std::map<std::string, std::pair<ChunkRef, uint64_t>> refs;  // id -> (ref, first manifest naming it)
  uint64_t total = 0;
  for (const auto& [seq, m] : valid)
    for (const auto& f : m.files)
      for (const auto& c : f.chunks)
        if (refs.emplace(c.id, std::make_pair(c, seq)).second) total += c.stored;

  std::optional<ChunkOpener> opener;
  if (!opt.shares.empty() && valid.count(newest)) {
    MV_ASSIGN(auto sk, backup_secret(valid.at(newest), opt.shares));
    opener.emplace(std::move(sk), valid.at(newest).recovery_key);
    rep.decrypted = true;
  }
  uint64_t done = 0;
  for (const auto& [id, rs] : refs) {
    const auto& [ref, seq] = rs;
    auto obj = target.get(chunk_name(id), kMaxChunkObject);
    done += ref.stored;
    if (opt.progress) opt.progress(done, total);
    if (!obj.ok()) {
      problems.push_back("chunk " + id + " (in manifest " + manifest_name(seq) + ") is " +
                         (obj.error().code == Errc::not_found ? "missing" : "unreadable: " + obj.error().message));
      continue;
    }
    if (obj->size() != ref.stored || object_hash(*obj) != ref.hash) {
      problems.push_back("chunk " + id + " (in manifest " + manifest_name(seq) + ") is damaged");
      continue;
    }
    if (opener) {
      auto plain = opener->open(ref, *obj);
      if (!plain.ok()) {
        problems.push_back(plain.error().message);
        continue;
      }
    }
    ++rep.chunks;
    rep.bytes += ref.size;
  }
  if (!problems.empty()) {
    std::string msg = "backup in " + target.describe() + " failed verification: ";
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    return make_error(Errc::integrity, msg);
  }
  return rep;
}

// ---- list ------------------------------------------------------------------

Result<std::vector<ManifestInfo>> list_backups(Target& target) {
  MV_ASSIGN(Chain chain, load_chain(target));
  std::vector<ManifestInfo> out;
  for (const auto& [seq, bytes] : chain.manifest_bytes) {
    ManifestInfo i;
    i.seq = seq;
    auto m = parse_manifest(bytes);
    if (m.ok() && m->seq == seq) {
      i.valid = true;
      i.created_ms = m->created_ms;
      i.vault_id = m->vault_id;
      i.audit_size = m->audit_size;
      i.new_stored = m->new_stored;
      for (const auto& f : m->files) i.bytes += f.size;
    }
    out.push_back(std::move(i));
  }
  return out;
}

// ---- restore ---------------------------------------------------------------

Result<Manifest> restore_backup(Target& target, const fs::path& dir, const RestoreOptions& opt) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    return make_error(Errc::conflict, dir.string() + " is not empty: restore into a new directory");
  if (opt.shares.empty()) return make_error(Errc::invalid, "a restore needs the recovery shares (--share FILE, k of them)");
  uint64_t seq = opt.seq;
  if (seq == 0) {
    MV_ASSIGN(auto names, target.list("manifests"));
    for (const auto& n : names) seq = std::max(seq, seq_of(n));
    if (seq == 0) return make_error(Errc::not_found, "no backup in " + target.describe());
  }
  MV_ASSIGN(auto bytes, target.get(manifest_name(seq), kMaxManifestSize));
  auto parsed = parse_manifest(bytes);
  if (!parsed.ok())
    return make_error(Errc::integrity, "manifest " + manifest_name(seq) + ": " + parsed.error().message);
  Manifest m = std::move(parsed).value();
  if (m.seq != seq)
    return make_error(Errc::integrity, "manifest " + manifest_name(seq) + " holds manifest " + std::to_string(m.seq));
  bool has_db = false, has_seal = false;
  uint64_t total = 0;
  for (const auto& f : m.files) {
    has_db |= f.name == "vault.db";
    has_seal |= f.name == "master.seal";
    total += f.size;
  }
  if (!has_db || !has_seal) return make_error(Errc::integrity, "manifest " + manifest_name(seq) + " lacks the store or the seal");
  MV_ASSIGN(auto sk, backup_secret(m, opt.shares));
  ChunkOpener opener(std::move(sk), m.recovery_key);

  fs::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  uint64_t done = 0;
  // The seal last, as at init: a directory without it is visibly incomplete.
  std::vector<const FileEntry*> order;
  for (const auto& f : m.files)
    if (f.name != "master.seal") order.push_back(&f);
  for (const auto& f : m.files)
    if (f.name == "master.seal") order.push_back(&f);
  // Each chunk is fetched here (a Target serves one thread), checked,
  // decrypted, decompressed and written at its offset on a worker, a few at
  // a time, into a temporary file that is synced and renamed when complete.
  const size_t window = std::max(2u, std::thread::hardware_concurrency()) + 1;
  for (const FileEntry* f : order) {
    uint64_t sum = 0;
    for (const auto& c : f->chunks) {
      if (c.size > kMaxChunkSize) return make_error(Errc::integrity, "chunk " + c.id + " is larger than a chunk can be");
      sum += c.size;
    }
    if (sum != f->size)
      return make_error(Errc::integrity, "manifest " + manifest_name(seq) + ": the chunks of " + f->name +
                                             " do not add up to its size");
    const fs::path p = dir / f->name;
    fs::create_directories(p.parent_path(), ec);
    ::chmod(p.parent_path().c_str(), 0700);
    const fs::path part = fs::path(p) += ".part";
    const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(Errc::io, "cannot create " + part.string() + ": " + std::strerror(errno));
    std::deque<std::future<Status>> inflight;
    Status failed = ok_status();
    auto complete_one = [&] {
      Status got = make_error(Errc::internal, "out of memory opening a chunk");
      try {
        got = inflight.front().get();
      } catch (const std::exception&) {  // bad_alloc in the worker
      }
      inflight.pop_front();
      if (failed.ok() && !got.ok()) failed = got.error();
    };
    uint64_t at = 0;  // the chunk's offset in the file
    for (const auto& c : f->chunks) {
      if (inflight.size() >= window) complete_one();
      if (!failed.ok()) break;
      auto obj = target.get(chunk_name(c.id), kMaxChunkObject);
      if (!obj.ok()) {
        failed = make_error(obj.error().code == Errc::not_found ? Errc::integrity : obj.error().code,
                            "chunk " + c.id + ": " + obj.error().message);
        break;
      }
      try {
        inflight.push_back(std::async(std::launch::async, [&, at, o = std::move(obj).value()]() -> Status {
          if (object_hash(o) != c.hash) return make_error(Errc::integrity, "chunk " + c.id + " is damaged");
          MV_ASSIGN(auto plain, opener.open(c, o));
          Status st = pwrite_all(fd, plain, at, part);
          sodium_memzero(plain.data(), plain.size());
          return st;
        }));
      } catch (const std::exception&) {
        failed = make_error(Errc::internal, "cannot start a restore thread");
        break;
      }
      at += c.size;
      done += c.size;
      if (opt.progress) opt.progress(done, total);
    }
    while (!inflight.empty()) complete_one();
    if (failed.ok() && ::fsync(fd) != 0)
      failed = make_error(Errc::io, "cannot sync " + part.string() + ": " + std::strerror(errno));
    ::close(fd);
    if (failed.ok() && ::rename(part.c_str(), p.c_str()) != 0)
      failed = make_error(Errc::io, "cannot rename onto " + p.string() + ": " + std::strerror(errno));
    if (!failed.ok()) {
      ::unlink(part.c_str());
      return failed.error();
    }
    if (int dfd = ::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  // quick_check here, the caller's check on a second thread: both read the
  // whole store (pages / audit log) and take about as long.
  std::future<Status> other;
  if (opt.check) {
    try {
      other = std::async(std::launch::async, opt.check, dir, std::cref(m));
    } catch (const std::exception&) {  // no thread: one after the other
      other = std::async(std::launch::deferred, opt.check, dir, std::cref(m));
    }
  }
  Status st = quick_check(dir / "vault.db");
  if (other.valid()) {
    Status theirs = make_error(Errc::internal, "out of memory checking the restored vault");
    try {
      theirs = other.get();
    } catch (const std::exception&) {
    }
    if (st.ok()) st = std::move(theirs);
  }
  if (!st.ok()) {
    ::unlink((dir / "master.seal").c_str());
    return st.error();
  }
  return m;
}

// ---- prune -----------------------------------------------------------------

Result<PruneReport> prune_backups(vault::Vault& vault, Target& target, const Retention& keep) {
  MV_ASSIGN(auto keys, vault.backup_keys());
  const std::string my_key = signing_public_key(keys.signing_seed);
  MV_ASSIGN(Chain chain, load_chain(target));
  std::map<uint64_t, Manifest> ms;
  for (const auto& [seq, bytes] : chain.manifest_bytes) {
    auto m = parse_manifest(bytes);
    if (!m.ok() || m->seq != seq || m->signing_key != my_key)
      return make_error(Errc::integrity, "manifest " + manifest_name(seq) + " does not verify; run backup verify before pruning");
    ms.emplace(seq, std::move(m).value());
  }
  PruneReport rep;
  if (ms.empty()) return rep;
  std::set<uint64_t> kept{ms.rbegin()->first};
  // Newest first: the first manifest seen in a period is that period's keeper.
  auto apply = [&](int count, auto period_of) {
    std::set<int64_t> periods;
    for (auto it = ms.rbegin(); it != ms.rend(); ++it) {
      int64_t p = period_of(it->second.created_ms / 1000);
      if (periods.count(p)) continue;
      if (static_cast<int>(periods.size()) >= count) break;
      periods.insert(p);
      kept.insert(it->first);
    }
  };
  apply(keep.daily, [](int64_t s) { return s / 86400; });
  apply(keep.weekly, [](int64_t s) { return (s / 86400 + 3) / 7; });  // weeks from Monday
  apply(keep.monthly, [](int64_t s) {
    std::time_t t = static_cast<std::time_t>(s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return static_cast<int64_t>(tm.tm_year) * 12 + tm.tm_mon;
  });
  for (const auto& [seq, m] : ms) {
    if (kept.count(seq)) continue;
    Tombstone t{seq, object_hash(chain.manifest_bytes.at(seq)), m.prev, {}};
    MV_TRY(target.put(tombstone_name(seq), sign_tombstone(t, keys.signing_seed)));
    MV_TRY(target.remove(manifest_name(seq)));
    rep.removed_manifests.push_back(seq);
  }
  rep.kept_manifests = kept.size();
  std::set<std::string> live;
  for (uint64_t seq : kept)
    for (const auto& f : ms.at(seq).files)
      for (const auto& c : f.chunks) live.insert(c.id);
  MV_ASSIGN(auto objects, target.list("chunks"));
  for (const auto& n : objects) {
    std::string id = n.substr(n.rfind('/') + 1);
    if (live.count(id)) continue;
    MV_TRY(target.remove(n));
    ++rep.removed_chunks;
  }
  return rep;
}

}  // namespace medvault::backup
