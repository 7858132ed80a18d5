// The backup manifest: which files a backup holds, as lists of chunks, signed
// with Ed25519 and chained to the previous manifest (docs/formats/backup.md).
// Everything parsed here comes from an untrusted target: parse_manifest
// bounds every size and count and answers an error value, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/secret.h"

namespace medvault::backup {

constexpr size_t kMaxManifestSize = 64 << 20;
constexpr size_t kMaxChunkSize = 16 << 20;   // plaintext bytes of one chunk
constexpr uint64_t kMaxFileSize = uint64_t{1} << 44;

struct ChunkRef {
  std::string id;      // 64 hex: keyed BLAKE2b-256 of the plaintext
  uint64_t size = 0;   // plaintext bytes
  uint64_t stored = 0; // bytes of the object on the target
  std::string hash;    // 64 hex: BLAKE2b-256 of the stored object
};

struct FileEntry {
  std::string name;  // relative to the vault directory: "vault.db", "tls/cert.pem"
  uint64_t size = 0;
  std::vector<ChunkRef> chunks;
};

struct Manifest {
  uint64_t seq = 0;            // 1, 2, ... per target
  std::string vault_id;
  int64_t created_ms = 0;
  std::string prev;            // 64 hex: hash of manifest seq-1 ("" for seq 1)
  std::string signing_key;     // Ed25519 public key, 32 bytes
  std::string recovery_key;    // X25519 public key, 32 bytes
  int recovery_k = 0, recovery_n = 0;
  uint64_t audit_size = 0;
  std::string audit_root;      // 64 hex or ""
  std::vector<FileEntry> files;
  // Statistics of the run that wrote it.
  uint64_t new_chunks = 0, new_stored = 0;
};

// A signed record that manifest `seq` (whose file hash was `hash` and whose
// predecessor hash was `prev`) was pruned, so the chain still verifies.
struct Tombstone {
  uint64_t seq = 0;
  std::string hash, prev;
  std::string signing_key;
};

// The object names.
std::string manifest_name(uint64_t seq);   // "manifests/0000000007"
std::string tombstone_name(uint64_t seq);  // "pruned/0000000007"
std::string chunk_name(std::string_view id);  // "chunks/ab/ab12..."
// The sequence number in a manifests/ or pruned/ object name; 0 if malformed.
uint64_t seq_of(std::string_view name);

// The file bytes of a manifest: one line of JSON, then one line with the
// base64 Ed25519 signature of ("medvault-backup-manifest-v1\n" || JSON line).
// signing_key is filled from the seed.
std::string sign_manifest(Manifest m, const crypto::SecretKey& signing_seed);
// Parses and checks the signature against the key the manifest names (the
// caller pins that key). Errc::integrity with the reason.
Result<Manifest> parse_manifest(std::string_view bytes);

std::string sign_tombstone(Tombstone t, const crypto::SecretKey& signing_seed);
Result<Tombstone> parse_tombstone(std::string_view bytes);

// Hex BLAKE2b-256 of a manifest file (what the next manifest's prev names).
std::string object_hash(std::string_view bytes);

// The Ed25519 public key of a signing seed.
std::string signing_public_key(const crypto::SecretKey& seed);

}  // namespace medvault::backup
