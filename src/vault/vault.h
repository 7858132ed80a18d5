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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/log.h"
#include "common/clock.h"
#include "common/result.h"
#include "crypto/seal.h"
#include "crypto/secret.h"
#include "vault/accounts.h"
#include "vault/repository.h"

namespace medvault::vault {

struct InitOptions {
  std::filesystem::path dir;
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
  virtual ~Vault() = default;

  virtual const std::filesystem::path& dir() const = 0;
  virtual Repository& repository() = 0;
  virtual Accounts& accounts() = 0;
  // The audit log, for the `medvault audit` commands (verify, checkpoint,
  // prove, export), which record their own entries. nullptr for a vault
  // without one (test doubles).
  virtual audit::Log* audit_log() { return nullptr; }

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
};

}  // namespace medvault::vault
