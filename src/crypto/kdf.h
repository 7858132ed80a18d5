// Sub-keys of the master key (crypto_kdf_derive_from_key, context "medvault").
// Each purpose has a fixed sub-key id; never reuse an id for another purpose.
#pragma once

#include <cstdint>

#include "crypto/secret.h"

namespace medvault::crypto {

enum class SubKey : uint64_t {
  kek_wrap = 1,      // wraps the versioned key-encryption keys
  blind_index = 2,   // keyed blind indexes for search
  audit_mac = 3,     // MAC chain of the audit log
  session = 4,       // session and token hashing
  audit_detail = 5,  // encrypts free-text details of audit entries
  audit_signing = 6, // seed of the Ed25519 checkpoint signing key
  backup_signing = 7, // seed of the Ed25519 backup-manifest signing key
  backup_dedup = 8,   // keys the backup chunk ids (keyed BLAKE2b)
};

SecretKey derive(const SecretKey& master, SubKey id);

}  // namespace medvault::crypto
