// A vault: one data directory (or PostgreSQL database), its sealed master key,
// and the services built on them. The only object the server and the command
// line construct; everything else hangs off it.
//
// Data directory layout (docs/architecture.md):
//   DIR/master.seal   the sealed master key (crypto/seal.h)
//   DIR/vault.db      the SQLite store (+ -wal, -shm)
//   DIR/tls/          server certificate and key (key mode 0600)
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/log.h"
#include "audit/syslog_forwarder.h"
#include "common/clock.h"
#include "common/result.h"
#include "crypto/seal.h"
#include "crypto/secret.h"
#include "vault/accounts.h"
#include "vault/repository.h"
#include "vault/sessions.h"

namespace medvault::vault {

struct InitOptions {
  std::filesystem::path dir;               // SQLite vault; with store_url: the node's directory (tls/)
  std::string store_url;                   // postgresql://...: the store and the seal live there
  std::optional<crypto::SecretString> passphrase;
  std::optional<std::string> keyfile;      // key-file bytes (already read)
  int shares = 0;                          // n (0: no recovery kit)
  int threshold = 0;                       // k
  std::filesystem::path kit_dir;           // where share files are written
  crypto::Argon2Params argon2 = crypto::Argon2Params::moderate();
};

// How to unseal: exactly one of passphrase, key file or shares.
struct Unsealer {
  std::optional<crypto::SecretString> passphrase;
  std::optional<std::string> keyfile;
  std::vector<std::string> shares;  // share file texts
};

// What backups (src/backup, docs/formats/backup.md) need from an open vault.
struct BackupKeys {
  crypto::SecretKey signing_seed;   // Ed25519 seed of the manifest signing key
  crypto::SecretKey dedup_key;      // keys the chunk ids (keyed BLAKE2b)
  std::string recovery_public_key;  // X25519 (32 bytes): chunk keys are sealed to it
};

// One consistent copy of the vault's files, taken while the server runs.
struct VaultSnapshot {
  std::string seal;          // DIR/master.seal as on disk (the master key stays sealed)
  uint64_t audit_size = 0;   // audit entries in the store copy
  std::string audit_root;    // hex Merkle root at audit_size ("" if unknown)
  // The store's files beside its image (the audit log's segments), to copy
  // as their first `bytes` bytes; names are relative to the vault directory.
  std::vector<store::Store::SnapshotFile> files;
};

struct VaultStatus {
  std::string vault_id;
  std::string store_kind;  // "sqlite"
  uint32_t kek_version = 0;
  uint64_t data_keys = 0;
  uint64_t resources = 0;   // current, not deleted
  uint64_t audit_entries = 0;
  int schema_version = 0;
  bool keys_locked_in_memory = false;
  bool has_passphrase = false, has_keyfile = false;
  int recovery_threshold = 0, recovery_shares = 0;
};

// The privacy officer's audit viewer (docs/admin-api.md): exactly one of
// patient, user or a time window [from_ms, to_ms).
struct AuditQuery {
  std::string patient, user;
  int64_t from_ms = 0, to_ms = 0;
  bool flagged_only = false;
  size_t limit = 100;  // 1..500
};

struct AuditRecord {
  uint64_t seq = 0;
  audit::Entry entry;  // detail decrypted
};

class Vault {
 public:
  // Creates a new vault in opts.dir (which must not hold one). Writes the seal,
  // the empty store with its first KEK, and the recovery kit if asked.
  static Status init(const InitOptions& opts);

  // Opens and unseals. Errc::sealed on a wrong secret or a corrupt seal file
  // (nothing on disk is modified in that case).
  static Result<std::unique_ptr<Vault>> open(const std::filesystem::path& dir,
                                             const Unsealer& how,
                                             const Clock& clock = SystemClock::instance());
  // A vault on PostgreSQL (store::open_postgres): the seal is kept in the
  // database, so every node unseals the same one with the same passphrase or
  // shares; `node_dir` holds only what is the node's own (tls/), may be empty.
  static Result<std::unique_ptr<Vault>> open_store(const std::string& url,
                                                   const std::filesystem::path& node_dir,
                                                   const Unsealer& how,
                                                   const Clock& clock = SystemClock::instance());
  // Moves the SQLite vault in `from` to the empty PostgreSQL database `to`
  // (every version, key, account, token, audit entry and checkpoint, and the
  // seal), unsealed by `how` to prove the right to do so, and verifies the
  // audit log of the result. The source is left as it was. Audited in both.
  static Status migrate(const std::filesystem::path& from, const std::string& to,
                        const Unsealer& how);
  virtual ~Vault() = default;

  virtual const std::filesystem::path& dir() const = 0;
  virtual Repository& repository() = 0;
  virtual Accounts& accounts() = 0;
  // Signing in, sessions and the enrolment of factors (docs/auth-api.md);
  // nullptr for test doubles without them.
  virtual Sessions* sessions() { return nullptr; }
  // The audit log, for the `medvault audit` commands (verify, checkpoint,
  // prove, export), which record their own entries. nullptr for a vault
  // without one (test doubles).
  virtual audit::Log* audit_log() { return nullptr; }
  // One read transaction for the reads this thread makes until the object
  // dies (store::Store::read_scope): the server wraps each FHIR GET in one.
  virtual std::unique_ptr<store::ReadScope> read_scope() { return nullptr; }
  // Starts forwarding the audit log to a syslog collector (the forwarded
  // position is kept in the store); it runs until the returned object is
  // destroyed, which must happen before the vault is.
  virtual Result<std::unique_ptr<audit::SyslogForwarder>> forward_audit_to_syslog(
      audit::SyslogOptions) {
    return make_error(Errc::internal, "this vault has no audit log");
  }

  // The entries matching `q`, newest first; role auditor only; the query
  // itself is audited ("audit-query") before anything is returned.
  virtual Result<std::vector<AuditRecord>> audit_query(const RequestContext& ctx, const AuditQuery& q) {
    (void)ctx, (void)q;
    return make_error(Errc::invalid, "this vault has no audit log");
  }

  // New KEK; every data key re-wrapped under it; the old KEK destroyed (its
  // row deleted with secure_delete, the WAL truncated). Records are not
  // re-encrypted. Audited.
  virtual Status rotate_kek(const RequestContext& ctx) = 0;
  virtual Status change_passphrase(const RequestContext& ctx,
                                   const crypto::SecretString& new_passphrase,
                                   const crypto::Argon2Params& params) = 0;
  virtual Result<VaultStatus> status() = 0;
  // Engine integrity check plus the audit chain; names the first bad entry.
  virtual Status verify() = 0;

  // ---- backups. Defaults answer Errc::invalid (test doubles, engines
  // without snapshots).
  // Keys of the backup writer: derived from the master key (sub-keys 7 and
  // 8) and the recovery slot's public key. Errc::invalid, with the command
  // that fixes it, when the vault has no recovery kit with a backup key.
  virtual Result<BackupKeys> backup_keys() { return make_error(Errc::invalid, "this vault cannot be backed up"); }
  // Streams the store copy (vault.db image) to `sink` (store::Store::snapshot),
  // names the files that go with it (the audit log's segments) and audits it (action "backup-create", after the copy, so the entry is
  // not in it).
  virtual Result<VaultSnapshot> snapshot(const RequestContext& ctx,
                                         const std::function<Status(uint64_t offset, std::string_view)>& sink) {
    (void)ctx, (void)sink;
    return make_error(Errc::invalid, "this vault cannot be backed up");
  }
  // The vault's own record of the last backup manifest it wrote (opaque
  // text, kept in the store), so that a target cannot roll back silently.
  virtual Result<std::optional<std::string>> backup_record() { return std::optional<std::string>(); }
  virtual Status set_backup_record(const std::string& record) {
    (void)record;
    return make_error(Errc::invalid, "this vault cannot be backed up");
  }
  // Replaces the recovery slot with a new k-of-n kit (share files and the
  // bilingual document written to kit_dir, as at init) and a new backup key.
  // Audited ("recovery-kit-create"). The old shares stop working.
  virtual Status create_recovery_kit(const RequestContext& ctx, int n, int k,
                                     const std::filesystem::path& kit_dir) {
    (void)ctx, (void)n, (void)k, (void)kit_dir;
    return make_error(Errc::invalid, "this vault has no recovery kit");
  }
};

}  // namespace medvault::vault
