// Signed checkpoints of the audit log: a C2SP tlog-checkpoint
// (https://c2sp.org/tlog-checkpoint) signed as a C2SP signed note
// (https://c2sp.org/signed-note) with Ed25519. Witnesses and the independent
// verifier (test/audit_verifier/verify.py) read exactly these bytes; they are
// written down in docs/formats/audit-merkle.md.
//
//   medvault.local/3f2a...          origin
//   10000                           tree size, decimal, no leading zeros
//   3q2+7w...=                      base64 of the 32-byte root hash
//                                   (blank line: end of the note text)
//   — medvault.local/3f2a... AbCd...  em dash, key name, base64(key ID || sig)
//
// Verification is strict: anything the formats do not allow (invalid UTF-8,
// control characters, CR, non-canonical base64 or decimal, empty lines in the
// checkpoint, a signature by the expected key that does not verify) is
// refused with Errc::integrity and a one-line reason that never echoes the
// input. Notes are limited to kMaxNoteSize bytes and kMaxSignatures lines.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "audit/merkle.h"
#include "common/result.h"

namespace medvault::audit {

inline constexpr size_t kMaxNoteSize = 64 * 1024;
inline constexpr size_t kMaxSignatures = 100;  // the spec asks for at least 16
inline constexpr uint8_t kSigTypeEd25519 = 0x01;

struct Checkpoint {
  std::string origin;                   // "medvault.local/<vault-id>"
  uint64_t size = 0;                    // number of leaves
  merkle::Hash root{};                  // MTH of those leaves
  std::vector<std::string> extensions;  // optional opaque lines, each non-empty

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// A verifier key: who signed (key name), which key (ID) and the Ed25519
// public key.
struct VerifierKey {
  std::string name;
  uint32_t id = 0;
  std::array<uint8_t, 32> public_key{};
};

// Key ID = first 4 bytes, big-endian, of
// SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key).
uint32_t key_id(std::string_view key_name, const std::array<uint8_t, 32>& public_key);

// The verifier key derived from a 32-byte Ed25519 seed (crypto_sign_seed_keypair),
// and its published text form "<name>+<8 hex digits key ID>+<base64(0x01 || pubkey)>".
// Errc::invalid if the seed is not 32 bytes or the name is not a valid key
// name (non-empty UTF-8, no Unicode space, no '+', no control character).
Result<VerifierKey> verifier_key_from_seed(std::string_view key_name,
                                           std::span<const uint8_t> seed);
std::string format_verifier_key(const VerifierKey& key);
// Parses the text form; checks that the ID matches the name and key.
// Errc::invalid if malformed.
Result<VerifierKey> parse_verifier_key(std::string_view vkey);

// Signed notes in general (the checkpoint functions below use these).
// sign_note: `text` must be a valid note text (UTF-8, no control character
// but newline, ending in a newline), else Errc::invalid. Returns
// text || "\n" || "— " name " " base64(id || sig) "\n".
Result<std::string> sign_note(std::string_view text, std::span<const uint8_t> seed,
                              std::string_view key_name);
// verify_note: checks the note's syntax and the signature by `key`, ignoring
// signatures by other keys; returns the note text (ending in newline).
Result<std::string> verify_note(std::string_view note, const VerifierKey& key);

// Checkpoint note text: origin, size, root and extension lines, each ending
// in a newline. Errc::invalid for an origin or extension line that a
// checkpoint cannot carry (empty, newline or other control character,
// invalid UTF-8; for the origin also Unicode space or '+').
Result<std::string> checkpoint_text(const Checkpoint& cp);
// Strict parse of a checkpoint note text. Errc::integrity if malformed.
Result<Checkpoint> parse_checkpoint_text(std::string_view text);

// The signed checkpoint note. `seed` is the 32-byte Ed25519 seed (the
// caller derives it from the master key); `key_name` should equal `origin`.
Result<std::string> sign_checkpoint(std::string_view origin, uint64_t size,
                                    const merkle::Hash& root, std::span<const uint8_t> seed,
                                    std::string_view key_name,
                                    std::span<const std::string> extensions = {});

// Verifies the signature by `vkey` (text form) and parses the checkpoint.
// Errc::invalid if vkey itself is malformed; Errc::integrity if the note is
// malformed, carries no signature by that key, or that signature fails, or
// (when expected_origin is not empty) the origin differs.
Result<Checkpoint> verify_checkpoint(std::string_view note, std::string_view vkey,
                                     std::string_view expected_origin = {});
Result<Checkpoint> verify_checkpoint(std::string_view note, const VerifierKey& key,
                                     std::string_view expected_origin = {});

}  // namespace medvault::audit
