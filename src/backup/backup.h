// Encrypted, deduplicated, signed backups of a vault (docs/formats/backup.md).
//
// create: the running server's process (master key, no recovery key) takes a
// consistent snapshot, chunks it (chunker.h), compresses (zstd) and encrypts
// each new chunk under a fresh per-run key sealed to the recovery public key,
// and writes a signed manifest chained to the previous one. It can write
// backups but cannot read old ones. verify: structure, signatures, chain and
// the stored hash of every chunk without any key; with k recovery shares,
// also decrypts every chunk. restore: k shares rebuild the vault directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backup/chunker.h"
#include "backup/manifest.h"
#include "backup/target.h"
#include "common/result.h"
#include "vault/vault.h"

namespace medvault::backup {

// Called with (bytes done, bytes expected; 0 when unknown).
using Progress = std::function<void(uint64_t done, uint64_t total)>;

struct CreateOptions {
  ChunkerParams chunker;
  // zstd level 1: on a 210 MB vault 1.5 % larger than level 3 (level 2: as
  // level 3) and cheaper; the repository stays smaller than restic's
  // (BENCHMARKS.md, "Backups vs restic").
  int zstd_level = 1;
  Progress progress;
};

struct CreateReport {
  uint64_t seq = 0;
  uint64_t bytes = 0;        // plaintext bytes backed up
  uint64_t new_bytes = 0;    // plaintext bytes in new chunks
  uint64_t new_stored = 0;   // bytes written to the target
  uint64_t chunks = 0, new_chunks = 0;
  uint64_t audit_size = 0;
};

// REQUIRES: the caller audits the run (the vault's audit log).
Result<CreateReport> create_backup(vault::Vault& vault, Target& target, const CreateOptions& options);

struct VerifyOptions {
  std::vector<std::string> shares;  // share texts: decrypt every chunk too
  // The vault's record of the last manifest it wrote ("<seq> <hash>"), if known.
  std::optional<std::string> last_written;
  Progress progress;
};

struct VerifyReport {
  uint64_t manifests = 0, chunks = 0, bytes = 0;
  bool decrypted = false;
  uint64_t newest = 0;
};

// Errc::integrity listing every problem found, each naming the manifest or
// chunk ("manifest 0000000003: bad signature; chunk 1a2b...: damaged").
Result<VerifyReport> verify_backup(Target& target, const VerifyOptions& options);

struct ManifestInfo {
  uint64_t seq = 0;
  int64_t created_ms = 0;
  uint64_t bytes = 0, new_stored = 0, audit_size = 0;
  std::string vault_id;
  bool valid = false;  // signature and structure
};
Result<std::vector<ManifestInfo>> list_backups(Target& target);

struct RestoreOptions {
  std::vector<std::string> shares;
  uint64_t seq = 0;  // 0: the newest
  Progress progress;
  // The caller's own check of the restored directory and its manifest (open
  // the vault, check its audit chain against the manifest's root), run on a
  // second thread while SQLite's quick_check runs on this one, once every
  // file is in place. May be empty.
  std::function<Status(const std::filesystem::path& dir, const Manifest& manifest)> check;
};
// Writes the files of the manifest into `dir` (which must not exist or be
// empty), then runs quick_check and options.check side by side; fails if
// either does, and then removes master.seal again, so that a directory that
// failed its checks is visibly incomplete (Vault::open refuses it).
Result<Manifest> restore_backup(Target& target, const std::filesystem::path& dir, const RestoreOptions& options);

struct Retention {
  int daily = 0, weekly = 0, monthly = 0;
};
struct PruneReport {
  std::vector<uint64_t> removed_manifests;
  uint64_t removed_chunks = 0, kept_manifests = 0;
};
// Keeps the newest manifest and, per policy, the newest of each of the last
// `daily` days, `weekly` weeks and `monthly` months (UTC); removes the others
// (leaving signed prune records so the chain still verifies) and every chunk
// no kept manifest references. Do not run while a backup is being written.
Result<PruneReport> prune_backups(vault::Vault& vault, Target& target, const Retention& keep);

}  // namespace medvault::backup
