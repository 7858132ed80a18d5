#include "backup/backup.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <set>
#include <thread>
#include <tuple>

#include "common/file.h"
#include "fhir/resource.h"

namespace medvault::backup {
namespace {

namespace fs = std::filesystem;

std::string random_bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  unsigned char seed_bytes[randombytes_SEEDBYTES] = {};
  std::memcpy(seed_bytes, &seed, sizeof seed);
  randombytes_buf_deterministic(s.data(), n, seed_bytes);
  return s;
}

std::vector<std::string> chunks_of(std::string_view data, const ChunkerParams& p, size_t piece) {
  std::vector<std::string> out;
  crypto::SecretKey key;
  Chunker ch(p, key, [&](std::string_view c) {
    out.emplace_back(c);
    return ok_status();
  });
  for (size_t off = 0; off < data.size(); off += piece) EXPECT_TRUE(ch.add(data.substr(off, piece)).ok());
  EXPECT_TRUE(ch.finish().ok());
  return out;
}

const ChunkerParams kSmall{4 * 1024, 16 * 1024, 64 * 1024};

TEST(Chunker, CoversTheInputWithinBoundsWhateverTheFeedSize) {
  const std::string data = random_bytes(3 << 20, 1);
  auto a = chunks_of(data, kSmall, 1 << 20);
  auto b = chunks_of(data, kSmall, 777);
  EXPECT_EQ(a, b);
  std::string joined;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i + 1 < a.size()) {
      EXPECT_GE(a[i].size(), kSmall.min_size);
    }
    EXPECT_LE(a[i].size(), kSmall.max_size);
    joined += a[i];
  }
  EXPECT_EQ(joined, data);
  // The average is near the target (normalised chunking keeps it narrow).
  const double avg = static_cast<double>(data.size()) / a.size();
  EXPECT_GT(avg, kSmall.avg_size * 0.5);
  EXPECT_LT(avg, kSmall.avg_size * 2.0);
}

TEST(Chunker, AnInsertionChangesOnlyTheChunksAroundIt) {
  const std::string data = random_bytes(4 << 20, 2);
  std::string edited = data;
  edited.insert(data.size() / 2, "an inserted sentence of forty-two bytes!!");
  auto a = chunks_of(data, kSmall, 65536);
  auto b = chunks_of(edited, kSmall, 65536);
  std::set<std::string> before(a.begin(), a.end());
  size_t reused = 0;
  for (const auto& c : b) reused += before.count(c);
  EXPECT_GE(reused + 3, b.size()) << reused << " of " << b.size();
  EXPECT_LT(reused, b.size());
}

TEST(Chunker, GearKeyChangesTheBoundaries) {
  const std::string data = random_bytes(1 << 20, 3);
  crypto::SecretKey k0;
  auto k1 = crypto::SecretKey::random();
  size_t c0 = 0, c1 = 0;
  Chunker a(kSmall, k0, [&](std::string_view c) { c0 = c0 * 31 + c.size(); return ok_status(); });
  Chunker b(kSmall, k1, [&](std::string_view c) { c1 = c1 * 31 + c.size(); return ok_status(); });
  ASSERT_TRUE(a.add(data).ok() && a.finish().ok() && b.add(data).ok() && b.finish().ok());
  EXPECT_NE(c0, c1);
}

// The pipelined chunker cuts exactly where the single-threaded one does,
// whatever the feed, block and queue sizes (a block smaller than a feed
// piece, one feed piece spanning blocks, a queue of one).
TEST(ThreadedChunker, SameChunksAsTheChunker) {
  const std::string data = random_bytes((3 << 20) + 12345, 4);
  const auto want = chunks_of(data, kSmall, 1 << 20);
  const std::vector<std::tuple<size_t, size_t, size_t>> feeds = {  // piece, block, depth
      {4096, 1 << 20, 4}, {777, 5000, 1}, {100000, 65536, 2}, {data.size(), 1 << 20, 4}};
  for (auto [piece, block, depth] : feeds) {
    std::vector<std::string> got;
    crypto::SecretKey key;
    const auto caller = std::this_thread::get_id();
    bool on_caller = false;
    ThreadedChunker ch(kSmall, key, [&](std::string_view c) {
      on_caller |= std::this_thread::get_id() == caller;
      got.emplace_back(c);
      return ok_status();
    }, block, depth);
    for (size_t off = 0; off < data.size(); off += piece) ASSERT_TRUE(ch.add(std::string_view(data).substr(off, piece)).ok());
    ASSERT_TRUE(ch.finish().ok());
    EXPECT_EQ(got, want) << "piece " << piece << " block " << block << " depth " << depth;
    EXPECT_FALSE(on_caller) << "chunks are cut on the chunker's own thread";
  }
  // Nothing added: one empty stream, no chunk, no thread.
  ThreadedChunker empty(kSmall, crypto::SecretKey(), [](std::string_view) {
    ADD_FAILURE() << "no chunk in an empty stream";
    return ok_status();
  });
  EXPECT_TRUE(empty.finish().ok());
}

// An error of the middle stage stops it at once and reaches the feeder.
TEST(ThreadedChunker, AnEmitErrorStopsTheStreamAndReachesTheFeeder) {
  const std::string data = random_bytes(4 << 20, 5);
  size_t emitted = 0;
  ThreadedChunker ch(kSmall, crypto::SecretKey(), [&](std::string_view) -> Status {
    if (++emitted == 3) return make_error(Errc::io, "disk full");
    return ok_status();
  }, 8192, 2);
  Status st = ok_status();
  size_t off = 0;
  for (; off < data.size() && st.ok(); off += 4096) st = ch.add(std::string_view(data).substr(off, 4096));
  if (st.ok()) st = ch.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::io);
  EXPECT_EQ(st.error().message, "disk full");
  EXPECT_LT(off, data.size()) << "the feeder is stopped early, not after the whole stream";
  EXPECT_FALSE(ch.finish().ok());
  EXPECT_EQ(emitted, 3u);
}

// ---- manifests -------------------------------------------------------------

Manifest sample() {
  Manifest m;
  m.seq = 2;
  m.vault_id = "0123456789abcdef01234567";
  m.created_ms = 1700000000000;
  m.prev = std::string(64, 'a');
  m.recovery_key = std::string(32, '\x07');
  m.recovery_k = 2;
  m.recovery_n = 3;
  m.audit_size = 10;
  FileEntry f;
  f.name = "vault.db";
  f.size = 300;
  f.chunks.push_back({std::string(64, '1'), 100, 180, std::string(64, '2')});
  f.chunks.push_back({std::string(64, '3'), 200, 280, std::string(64, '4')});
  m.files.push_back(f);
  return m;
}

TEST(Manifest, SignedRoundTrip) {
  auto seed = crypto::SecretKey::random();
  std::string bytes = sign_manifest(sample(), seed);
  auto m = parse_manifest(bytes);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->seq, 2u);
  EXPECT_EQ(m->signing_key, signing_public_key(seed));
  ASSERT_EQ(m->files.size(), 1u);
  EXPECT_EQ(m->files[0].chunks[1].size, 200u);
  EXPECT_EQ(m->recovery_key, std::string(32, '\x07'));
}

TEST(Manifest, EveryFlippedByteIsRejected) {
  auto seed = crypto::SecretKey::random();
  const std::string bytes = sign_manifest(sample(), seed);
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string bad = bytes;
    bad[i] ^= 0x01;
    EXPECT_FALSE(parse_manifest(bad).ok()) << "byte " << i;
  }
}

TEST(Manifest, ReSignedByAnotherKeyIsSeenByTheKey) {
  auto a = crypto::SecretKey::random(), b = crypto::SecretKey::random();
  auto ma = parse_manifest(sign_manifest(sample(), a));
  auto mb = parse_manifest(sign_manifest(sample(), b));
  ASSERT_TRUE(ma.ok() && mb.ok());
  EXPECT_NE(ma->signing_key, mb->signing_key);  // verify pins the newest key
}

// Hostile manifests, validly signed by an attacker's key: parsed into an
// error, never a crash or a huge allocation.
TEST(Manifest, HostileContentIsRejectedCleanly) {
  auto seed = crypto::SecretKey::random();
  auto resign = [&](const std::string& body) {
    unsigned char pk[32], sk[64], sig[64];
    crypto_sign_seed_keypair(pk, sk, seed.data());
    std::string msg = "medvault-backup-manifest-v1\n" + body;
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), sk);
    char b64[128];
    sodium_bin2base64(b64, sizeof b64, sig, 64, sodium_base64_VARIANT_ORIGINAL);
    return body + "\n" + b64 + "\n";
  };
  std::string good = sign_manifest(sample(), seed);
  std::string body = good.substr(0, good.find('\n'));
  auto mutate = [&](const std::string& from, const std::string& to) {
    std::string b = body;
    auto pos = b.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    b.replace(pos, from.size(), to);
    return resign(b);
  };
  EXPECT_TRUE(parse_manifest(resign(body)).ok());
  EXPECT_FALSE(parse_manifest(mutate("\"size\":300", "\"size\":18446744073709551615")).ok());
  EXPECT_FALSE(parse_manifest(mutate("\"size\":300", "\"size\":-1")).ok());
  EXPECT_FALSE(parse_manifest(mutate(",100,", ",99999999999,")).ok());    // chunk larger than allowed
  EXPECT_FALSE(parse_manifest(mutate(",100,", ",101,")).ok());            // sizes do not add up
  EXPECT_FALSE(parse_manifest(mutate("\"vault.db\"", "\"../../etc/passwd\"")).ok());
  EXPECT_FALSE(parse_manifest(mutate("\"vault.db\"", "\"/etc/passwd\"")).ok());
  EXPECT_FALSE(parse_manifest(mutate("\"recovery_k\":2", "\"recovery_k\":9")).ok());
  EXPECT_FALSE(parse_manifest(mutate("\"seq\":2", "\"seq\":\"2\"")).ok());
  EXPECT_FALSE(parse_manifest(resign("{\"format\":")).ok());   // bad JSON
  EXPECT_FALSE(parse_manifest(resign("[1,2,3]")).ok());
  EXPECT_FALSE(parse_manifest(resign(std::string(100000, '['))).ok());  // deep nesting
  EXPECT_FALSE(parse_manifest("").ok());
  EXPECT_FALSE(parse_manifest("\n\n").ok());
  EXPECT_FALSE(parse_manifest(good.substr(0, good.size() - 1)).ok());   // truncated
  EXPECT_FALSE(parse_manifest(good + "extra\n").ok());
}

TEST(Manifest, ObjectNames) {
  EXPECT_EQ(manifest_name(7), "manifests/0000000007");
  EXPECT_EQ(seq_of("manifests/0000000007"), 7u);
  EXPECT_EQ(seq_of("manifests/7"), 0u);
  EXPECT_EQ(seq_of("manifests/00000000x7"), 0u);
  EXPECT_EQ(chunk_name(std::string(64, 'f')), "chunks/ff/" + std::string(64, 'f'));
  EXPECT_TRUE(valid_object_name("chunks/ab/abc"));
  EXPECT_FALSE(valid_object_name("../x"));
  EXPECT_FALSE(valid_object_name("/x"));
  EXPECT_FALSE(valid_object_name("a//b"));
  EXPECT_FALSE(valid_object_name("a/./b"));
}

// ---- directory target ------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mv-backup-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(DirTarget, PutGetListRemove) {
  TempDir d;
  auto t = open_directory_target(d.path() / "repo", false);
  EXPECT_FALSE(t.ok());
  t = open_directory_target(d.path() / "repo", true);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->put("chunks/ab/abcd", "one").ok());
  ASSERT_TRUE((*t)->put("chunks/ab/abcd", "two").ok());  // replaced atomically
  ASSERT_TRUE((*t)->put("manifests/0000000001", "m").ok());
  EXPECT_EQ(*(*t)->get("chunks/ab/abcd", 100), "two");
  EXPECT_EQ((*t)->get("chunks/ab/abcd", 2).error().code, Errc::too_large);
  EXPECT_EQ((*t)->get("chunks/ab/none", 100).error().code, Errc::not_found);
  EXPECT_TRUE(*(*t)->exists("manifests/0000000001"));
  EXPECT_FALSE(*(*t)->exists("manifests/0000000002"));
  auto l = (*t)->list("chunks");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, std::vector<std::string>{"chunks/ab/abcd"});
  EXPECT_TRUE((*t)->list("pruned")->empty());
  EXPECT_FALSE((*t)->put("../escape", "x").ok());
  EXPECT_FALSE((*t)->get("/etc/passwd", 100).ok());
  ASSERT_TRUE((*t)->remove("chunks/ab/abcd").ok());
  ASSERT_TRUE((*t)->remove("chunks/ab/abcd").ok());
  EXPECT_FALSE(*(*t)->exists("chunks/ab/abcd"));
}

TEST(DirTarget, UnsyncedPutsAreObjectsAndSyncSucceeds) {
  TempDir d;
  auto t = open_directory_target(d.path() / "repo", true);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE((*t)->sync().ok());  // nothing pending
  ASSERT_TRUE((*t)->put_unsynced("chunks/cd/cdef", "one").ok());
  ASSERT_TRUE((*t)->put_unsynced("chunks/cd/cdef", "two").ok());
  ASSERT_TRUE((*t)->put_unsynced("chunks/ef/ef01", "three").ok());
  EXPECT_EQ(*(*t)->get("chunks/cd/cdef", 100), "two");
  ASSERT_TRUE((*t)->sync().ok());
  auto l = (*t)->list("chunks");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(std::set<std::string>(l->begin(), l->end()), (std::set<std::string>{"chunks/cd/cdef", "chunks/ef/ef01"}));
  EXPECT_EQ(fs::status(d.path() / "repo/chunks/ef/ef01").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE((*t)->put_unsynced("../escape", "x").ok());
}

// Records the order of puts and syncs on top of a directory target.
class RecordingTarget final : public Target {
 public:
  explicit RecordingTarget(Target& inner) : inner_(inner) {}
  std::string describe() const override { return inner_.describe(); }
  Result<std::vector<std::string>> list(const std::string& p) override { return inner_.list(p); }
  Status put(const std::string& n, std::string_view b) override {
    log.push_back("put " + n.substr(0, n.find('/')) + (unsynced ? " after unsynced chunks" : ""));
    return inner_.put(n, b);
  }
  Status put_unsynced(const std::string& n, std::string_view b) override {
    unsynced = true;
    return inner_.put_unsynced(n, b);
  }
  Status sync() override {
    unsynced = false;
    return inner_.sync();
  }
  Result<std::string> get(const std::string& n, size_t m) override { return inner_.get(n, m); }
  Result<bool> exists(const std::string& n) override { return inner_.exists(n); }
  Status remove(const std::string& n) override { return inner_.remove(n); }
  std::vector<std::string> log;
  bool unsynced = false;

 private:
  Target& inner_;
};

// Fails every put_unsynced from the `fail_at`-th on (a full disk midway).
class FailingTarget final : public Target {
 public:
  FailingTarget(Target& inner, int fail_at) : inner_(inner), fail_at_(fail_at) {}
  std::string describe() const override { return inner_.describe(); }
  Result<std::vector<std::string>> list(const std::string& p) override { return inner_.list(p); }
  Status put(const std::string& n, std::string_view b) override { return inner_.put(n, b); }
  Status put_unsynced(const std::string& n, std::string_view b) override {
    if (++puts >= fail_at_) return make_error(Errc::io, "no space left on the test target");
    return inner_.put_unsynced(n, b);
  }
  Status sync() override { return inner_.sync(); }
  Result<std::string> get(const std::string& n, size_t m) override { return inner_.get(n, m); }
  Result<bool> exists(const std::string& n) override { return inner_.exists(n); }
  Status remove(const std::string& n) override { return inner_.remove(n); }
  int puts = 0;

 private:
  Target& inner_;
  int fail_at_;
};

// ---- a real vault: create, verify, tamper, restore -------------------------

class BackupVault : public ::testing::Test {
 protected:
  void SetUp() override {
    vault::InitOptions o;
    o.dir = dir_.path() / "v";
    o.passphrase = crypto::SecretString("unit test passphrase");
    o.argon2 = crypto::Argon2Params::interactive();
    o.shares = 3;
    o.threshold = 2;
    o.kit_dir = dir_.path() / "kit";
    ASSERT_TRUE(vault::Vault::init(o).ok());
    vault::Unsealer u;
    u.passphrase = crypto::SecretString("unit test passphrase");
    auto v = vault::Vault::open(o.dir, u);
    ASSERT_TRUE(v.ok()) << v.error().message;
    vault_ = std::move(v).value();
    ctx_.subject.user = "system";
    ctx_.subject.role = "system";
    for (int i = 0; i < 400; ++i) add_patient("p" + std::to_string(i), "Zebulon" + std::to_string(i));
    auto t = open_directory_target(dir_.path() / "repo", true);
    ASSERT_TRUE(t.ok());
    target_ = std::move(t).value();
  }
  void add_patient(const std::string& id, const std::string& family) {
    auto r = fhir::parse_resource(R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":")" + family +
                                  R"("}]})");
    ASSERT_TRUE(r.ok());
    auto st = vault_->repository().update(ctx_, std::move(r).value(), std::nullopt);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  std::vector<std::string> shares(std::initializer_list<int> which) {
    std::vector<std::string> out;
    for (int i : which) out.push_back(*read_file(dir_.path() / "kit" / ("share-" + std::to_string(i) + ".txt")));
    return out;
  }
  // Chunks about one database page long. Adding one patient touches ~30 of
  // the ~280 pages, scattered: its index tokens are keyed hashes, so each
  // lands in a different leaf of the token index. With 16 KiB chunks that
  // was half of the chunks; with 4 KiB chunks it is about a fifth.
  CreateOptions small() {
    CreateOptions o;
    o.chunker = {1024, 4096, 16384};
    return o;
  }

  TempDir dir_;
  std::unique_ptr<vault::Vault> vault_;
  vault::RequestContext ctx_;
  std::unique_ptr<Target> target_;
};

TEST_F(BackupVault, CreateVerifyRestore) {
  auto r1 = create_backup(*vault_, *target_, small());
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  EXPECT_EQ(r1->seq, 1u);
  EXPECT_GT(r1->new_chunks, 0u);
  EXPECT_LE(r1->new_chunks, r1->chunks);  // identical chunks (free pages) are stored once
  add_patient("p-new", "Newcomer");
  auto r2 = create_backup(*vault_, *target_, small());
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->seq, 2u);
  EXPECT_LT(r2->new_bytes * 2, r2->bytes) << "most data is reused: " << r2->new_chunks << " of " << r2->chunks;

  VerifyOptions vo;
  auto v = verify_backup(*target_, vo);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_FALSE(v->decrypted);
  EXPECT_EQ(v->manifests, 2u);
  vo.shares = shares({1, 3});
  v = verify_backup(*target_, vo);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(v->decrypted);
  vo.shares = shares({2});
  EXPECT_EQ(verify_backup(*target_, vo).error().code, Errc::sealed);

  RestoreOptions ro;
  ro.shares = shares({2, 3});
  auto m = restore_backup(*target_, dir_.path() / "restored", ro);
  ASSERT_TRUE(m.ok()) << m.error().message;
  vault::Unsealer u;
  u.shares = ro.shares;
  auto restored = vault::Vault::open(dir_.path() / "restored", u);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  ASSERT_TRUE((*restored)->verify().ok());
  auto read = (*restored)->repository().read(ctx_, "Patient", "p-new");
  ASSERT_TRUE(read.ok());
  // A non-empty directory is refused.
  EXPECT_EQ(restore_backup(*target_, dir_.path() / "restored", ro).error().code, Errc::conflict);
}

TEST_F(BackupVault, ChunksAreDurableBeforeTheManifestNamesThem) {
  RecordingTarget rec(*target_);
  auto r = create_backup(*vault_, rec, small());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->new_chunks, 10u);  // several in flight at once
  EXPECT_EQ(rec.log, std::vector<std::string>{"put manifests"});
  // The chunks written in parallel are the ones the manifest names.
  VerifyOptions vo;
  vo.shares = shares({1, 2});
  auto v = verify_backup(*target_, vo);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_GT(v->chunks, 10u);
  EXPECT_LE(v->chunks, r->chunks);  // a chunk repeated within the run is stored once
}

// The pipelined snapshot (copy, chunking and sealing on separate threads)
// stores the chunks the single-threaded definition gives for the same bytes
// (docs/formats/backup.md): the page-1 head alone first, then FastCDC over
// the rest, ids keyed by dedup sub-key 1, gear table by sub-key 2.
TEST_F(BackupVault, PipelinedSnapshotStoresTheChunksOfItsImage) {
  auto r = create_backup(*vault_, *target_, small());
  ASSERT_TRUE(r.ok()) << r.error().message;
  RestoreOptions ro;
  ro.shares = shares({1, 2});
  auto m = restore_backup(*target_, dir_.path() / "restored", ro);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const std::string image = *read_file(dir_.path() / "restored" / "vault.db", 1 << 30);
  ASSERT_GT(image.size(), 100u);
  size_t page = (static_cast<uint8_t>(image[16]) << 8) | static_cast<uint8_t>(image[17]);
  if (page == 1) page = 65536;

  auto keys = vault_->backup_keys();
  ASSERT_TRUE(keys.ok());
  crypto::SecretKey id_key, gear_key;
  crypto_kdf_derive_from_key(id_key.data(), crypto::SecretKey::kSize, 1, "mvbkdedu", keys->dedup_key.data());
  crypto_kdf_derive_from_key(gear_key.data(), crypto::SecretKey::kSize, 2, "mvbkdedu", keys->dedup_key.data());
  std::vector<std::pair<std::string, uint64_t>> want;
  auto add = [&](std::string_view c) {
    unsigned char h[32];
    crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(c.data()), c.size(), id_key.data(),
                       crypto::SecretKey::kSize);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    want.emplace_back(hex, c.size());
    return ok_status();
  };
  ASSERT_TRUE(add(std::string_view(image).substr(0, page)).ok());
  Chunker ch(small().chunker, gear_key, add);
  ASSERT_TRUE(ch.add(std::string_view(image).substr(page)).ok());
  ASSERT_TRUE(ch.finish().ok());

  std::vector<std::pair<std::string, uint64_t>> got;
  for (const auto& f : m->files)
    if (f.name == "vault.db")
      for (const auto& c : f.chunks) got.emplace_back(c.id, c.size);
  EXPECT_GT(got.size(), 10u);
  EXPECT_EQ(got, want);
}

// A failure in the middle of the pipeline (the chunker's thread cannot
// write a chunk) stops the backup with that error and no manifest; the next
// run starts clean.
TEST_F(BackupVault, AChunkWriteFailureMidwayLeavesNoManifest) {
  FailingTarget failing(*target_, 4);
  auto r = create_backup(*vault_, failing, small());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_NE(r.error().message.find("no space left on the test target"), std::string::npos) << r.error().message;
  EXPECT_GE(failing.puts, 4);
  EXPECT_TRUE(target_->list("manifests")->empty());
  auto record = vault_->backup_record();
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->has_value()) << "the vault records no manifest";
  auto again = create_backup(*vault_, *target_, small());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->seq, 1u);
  VerifyOptions vo;
  vo.shares = shares({1, 3});
  EXPECT_TRUE(verify_backup(*target_, vo).ok());
}

// The caller's check runs beside quick_check on the complete directory
// (master.seal in place, so the vault opens there); its failure fails the
// restore and takes master.seal away again.
TEST_F(BackupVault, RestoreRunsTheCallersCheckBesideQuickCheck) {
  auto r = create_backup(*vault_, *target_, small());
  ASSERT_TRUE(r.ok()) << r.error().message;
  RestoreOptions ro;
  ro.shares = shares({1, 3});
  uint64_t seen_seq = 0, audited = 0;
  const auto caller = std::this_thread::get_id();
  bool on_caller = true;
  ro.check = [&](const fs::path& dir, const Manifest& m) -> Status {
    on_caller = std::this_thread::get_id() == caller;
    seen_seq = m.seq;
    vault::Unsealer u;
    u.shares = ro.shares;
    MV_ASSIGN(auto v, vault::Vault::open(dir, u));
    MV_ASSIGN(auto rep, v->audit_log()->verify());
    audited = rep.entries;
    return ok_status();
  };
  auto m = restore_backup(*target_, dir_.path() / "ok", ro);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(seen_seq, 1u);
  EXPECT_FALSE(on_caller);
  EXPECT_GE(audited, m->audit_size);
  EXPECT_GT(m->audit_size, 400u);

  ro.check = [](const fs::path& dir, const Manifest&) -> Status {
    EXPECT_TRUE(fs::exists(dir / "master.seal"));
    return make_error(Errc::integrity, "audit chain broken (test)");
  };
  const fs::path bad = dir_.path() / "bad";
  auto failed = restore_backup(*target_, bad, ro);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "audit chain broken (test)");
  EXPECT_FALSE(fs::exists(bad / "master.seal"));
  vault::Unsealer u;
  u.shares = ro.shares;
  EXPECT_EQ(vault::Vault::open(bad, u).error().code, Errc::sealed) << "an incomplete vault";
}

TEST_F(BackupVault, TamperingIsNamed) {
  ASSERT_TRUE(create_backup(*vault_, *target_, small()).ok());
  add_patient("p-new", "Newcomer");
  ASSERT_TRUE(create_backup(*vault_, *target_, small()).ok());
  const fs::path repo = dir_.path() / "repo";
  // A flipped byte in one chunk.
  auto chunks = *target_->list("chunks");
  ASSERT_FALSE(chunks.empty());
  std::string victim = chunks.front();
  std::string bytes = *target_->get(victim, 1 << 30);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_TRUE(target_->put(victim, bytes).ok());
  auto v = verify_backup(*target_, {});
  ASSERT_FALSE(v.ok());
  const std::string id = victim.substr(victim.rfind('/') + 1);
  EXPECT_NE(v.error().message.find("chunk " + id), std::string::npos) << v.error().message;
  EXPECT_NE(v.error().message.find("damaged"), std::string::npos);
  // The older manifest put back in place of the newest.
  ASSERT_TRUE(target_->put(manifest_name(2), *target_->get(manifest_name(1), 1 << 20)).ok());
  v = verify_backup(*target_, {});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("manifest manifests/0000000002 holds manifest 1"), std::string::npos)
      << v.error().message;
  // A deleted newest manifest is caught with the vault's own record.
  ASSERT_TRUE(target_->remove(manifest_name(2)).ok());
  VerifyOptions vo;
  vo.last_written = *vault_->backup_record();
  v = verify_backup(*target_, vo);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("rolled back"), std::string::npos) << v.error().message;
}

TEST_F(BackupVault, PruneKeepsTheChainVerifiable) {
  for (int i = 0; i < 3; ++i) {
    add_patient("q" + std::to_string(i), "Change" + std::to_string(i));
    ASSERT_TRUE(create_backup(*vault_, *target_, small()).ok());
  }
  Retention keep;  // only the newest
  auto p = prune_backups(*vault_, *target_, keep);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->removed_manifests.size(), 2u);
  EXPECT_GT(p->removed_chunks, 0u);
  VerifyOptions vo;
  vo.shares = shares({1, 2});
  auto v = verify_backup(*target_, vo);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->manifests, 1u);
  ASSERT_TRUE(create_backup(*vault_, *target_, small()).ok());
  EXPECT_TRUE(verify_backup(*target_, vo).ok());
}

TEST_F(BackupVault, VaultWithoutKitIsToldHowToMakeOne) {
  TempDir d;
  vault::InitOptions o;
  o.dir = d.path() / "v";
  o.passphrase = crypto::SecretString("unit test passphrase");
  o.argon2 = crypto::Argon2Params::interactive();
  ASSERT_TRUE(vault::Vault::init(o).ok());
  vault::Unsealer u;
  u.passphrase = crypto::SecretString("unit test passphrase");
  auto v = vault::Vault::open(o.dir, u);
  ASSERT_TRUE(v.ok());
  auto r = create_backup(**v, *target_, small());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("medvault kit create"), std::string::npos);
  ASSERT_TRUE((*v)->create_recovery_kit(ctx_, 3, 2, d.path() / "kit").ok());
  EXPECT_TRUE(create_backup(**v, *target_, small()).ok());
}

}  // namespace
}  // namespace medvault::backup
