// The sealed master key ("key seal" file, DIR/master.seal).
//
// The master key is never written in clear. The seal file holds it wrapped
// once per slot, like LUKS key slots:
//   - passphrase slot: wrapping key = Argon2id(passphrase, salt, ops, mem)
//   - key-file slot:   wrapping key = BLAKE2b-256 keyed by the key file bytes
//   - recovery slot:   wrapping key = a random recovery key split k-of-n with
//                      Shamir's scheme (libgfshare); each share is one file.
// Each wrapped copy is XChaCha20-Poly1305 with the vault id, slot kind and the
// slot's parameters as associated data, so a corrupted, truncated or edited
// file is detected (Errc::sealed with a clear message), and a wrong
// passphrase, key file or wrong shares are told apart from corruption where
// possible ("wrong passphrase" vs "seal file is corrupt").
// The file format is text (JSON), described in docs/formats/crypto.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/secret.h"

namespace medvault::crypto {

struct Argon2Params {
  uint64_t opslimit;  // crypto_pwhash_OPSLIMIT_MODERATE by default
  size_t memlimit;    // crypto_pwhash_MEMLIMIT_MODERATE by default (256 MiB)
  static Argon2Params moderate();
  // Cheap parameters for tests only (MEDVAULT_TEST_FAST_KDF=1 selects them in
  // the CLI; the seal file records the parameters used, so unsealing always
  // uses what sealing used).
  static Argon2Params interactive();
};

// One recovery share as written to a share file: text, so it can be printed
// and typed back. Contains the vault id, the threshold, the share number and
// the share bytes, with a checksum that catches typing errors.
struct ShareFile {
  std::string text;
  int number = 0;  // 1..n
};

class KeySeal {
 public:
  // A new, empty seal for vault `vault_id` (no slots yet).
  explicit KeySeal(std::string vault_id);

  // Parses a seal file. Errc::sealed with "seal file PATH is corrupt: ..." or
  // "... is truncated" when it cannot be used.
  static Result<KeySeal> load(const std::filesystem::path& path);
  Status save(const std::filesystem::path& path) const;  // atomic, mode 0600
  // The same text without a file (a PostgreSQL vault keeps it in the store,
  // so that every node unseals the same seal). `where` names it in errors.
  static Result<KeySeal> parse(std::string_view text, const std::string& where);
  Result<std::string> serialize() const;

  const std::string& vault_id() const { return vault_id_; }
  bool has_passphrase() const;
  bool has_keyfile() const;
  bool has_recovery() const;
  int recovery_threshold() const;  // 0 if no recovery slot
  int recovery_shares() const;

  // Unsealing. Errc::sealed "wrong passphrase" / "wrong key file" /
  // "these shares do not unseal this vault" / "need K shares, got J" /
  // "share N is damaged (checksum)" / "share belongs to another vault".
  Result<SecretKey> unseal_passphrase(std::string_view passphrase) const;
  Result<SecretKey> unseal_keyfile(std::span<const uint8_t> keyfile) const;
  Result<SecretKey> unseal_shares(const std::vector<std::string>& share_texts) const;

  // Backups (docs/formats/backup.md) are sealed to an X25519 key pair derived
  // from the recovery key, so only k custodians together can read them.
  // The public key (32 bytes), or "" when the vault has no recovery slot or
  // its slot was written before backups existed. It is part of the slot's
  // associated data, so shares that unseal the vault also authenticate it.
  std::string recovery_public_key() const;
  // The X25519 secret key (crypto_box) of that pair, from k shares of vault
  // `vault_id`'s k-of-n kit, checked against `public_key` (a restore has the
  // backup's signed manifest but not yet the seal). The errors of
  // unseal_shares, or "these shares do not open this backup".
  static Result<SecretKey> backup_key_from_shares(const std::string& vault_id, int k, int n,
                                                  std::string_view public_key,
                                                  const std::vector<std::string>& share_texts);

  // Adding or replacing slots (master must be the unsealed master key).
  void set_passphrase(const SecretKey& master, std::string_view passphrase,
                      const Argon2Params& params);
  void set_keyfile(const SecretKey& master, std::span<const uint8_t> keyfile);
  // Replaces the recovery slot; returns the n share files to hand to custodians.
  // REQUIRES 2 <= k <= n <= 255.
  std::vector<ShareFile> set_recovery(const SecretKey& master, int n, int k);

 private:
  struct Slot;
  std::string vault_id_;
  std::vector<Slot> slots_;
  Result<SecretKey> combine_shares(const std::vector<std::string>& share_texts) const;
  friend struct SlotAccess;
 public:
  ~KeySeal();
  KeySeal(KeySeal&&) noexcept;
  KeySeal& operator=(KeySeal&&) noexcept;
};

}  // namespace medvault::crypto
