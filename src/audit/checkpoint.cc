#include "audit/checkpoint.h"

#include <sodium.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace medvault::audit {
namespace {

constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // em dash U+2014, space
constexpr size_t kEd25519SigSize = crypto_sign_BYTES;     // 64
constexpr size_t kPublicKeySize = crypto_sign_PUBLICKEYBYTES;
static_assert(kPublicKeySize == 32 && crypto_sign_SEEDBYTES == 32);

Status ensure_sodium() {
  if (sodium_init() < 0) return make_error(Errc::internal, "libsodium cannot be initialised");
  return ok_status();
}

// Strict UTF-8 decoding of the code point at s[i] (no overlong forms, no
// surrogates, nothing above U+10FFFF). Advances i.
bool next_code_point(std::string_view s, size_t& i, char32_t& cp) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  }
  size_t len;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (s.size() - i < len) return false;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  i += len;
  return true;
}

// Unicode White_Space (what Go's unicode.IsSpace, used by the reference
// signed-note implementation, reports).
bool is_unicode_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

enum class TextCheck { ok, bad_utf8, control };

// Valid UTF-8 without control characters (below U+0020) other than newline
// (or none at all when allow_newline is false).
TextCheck check_text(std::string_view s, bool allow_newline) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    if (!next_code_point(s, i, cp)) return TextCheck::bad_utf8;
    if (cp < 0x20 && !(allow_newline && cp == '\n')) return TextCheck::control;
  }
  return TextCheck::ok;
}

// Key names (and our origins): non-empty UTF-8, no control character, no
// Unicode space, no '+'.
bool valid_key_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    char32_t cp;
    if (!next_code_point(name, i, cp)) return false;
    if (cp < 0x20 || cp == '+' || is_unicode_space(cp)) return false;
  }
  return true;
}

std::string base64(std::span<const uint8_t> bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bin.data(), bin.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL
  return out;
}

// Strict RFC 4648 section 4 base64: padded, no whitespace, canonical (the
// unused bits of the last group are zero, checked by re-encoding).
bool unbase64(std::string_view text, std::vector<uint8_t>& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  out.resize(text.size() / 4 * 3);
  size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  out.resize(len);
  return base64(out) == text;
}

std::string key_label(std::string_view name, uint32_t id) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", id);
  return std::string(name) + "+" + hex;
}

Error note_error(const std::string& why) {
  return make_error(Errc::integrity, "signed note: " + why);
}
Error checkpoint_error(const std::string& why) {
  return make_error(Errc::integrity, "checkpoint: " + why);
}

struct KeyPair {
  std::array<uint8_t, kPublicKeySize> pk{};
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  ~KeyPair() { sodium_memzero(sk.data(), sk.size()); }
};

Status key_pair(std::span<const uint8_t> seed, KeyPair& kp) {
  MV_TRY(ensure_sodium());
  if (seed.size() != crypto_sign_SEEDBYTES)
    return make_error(Errc::invalid, "the checkpoint signing seed must be 32 bytes");
  if (crypto_sign_seed_keypair(kp.pk.data(), kp.sk.data(), seed.data()) != 0)
    return make_error(Errc::internal, "cannot derive the checkpoint signing key");
  return ok_status();
}

}  // namespace

uint32_t key_id(std::string_view key_name, const std::array<uint8_t, 32>& public_key) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(key_name.data()),
                            key_name.size());
  const uint8_t sep[2] = {0x0A, kSigTypeEd25519};
  crypto_hash_sha256_update(&st, sep, sizeof sep);
  crypto_hash_sha256_update(&st, public_key.data(), public_key.size());
  uint8_t h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, h);
  return (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3];
}

Result<VerifierKey> verifier_key_from_seed(std::string_view key_name,
                                           std::span<const uint8_t> seed) {
  if (!valid_key_name(key_name))
    return make_error(Errc::invalid,
                      "a key name must be non-empty UTF-8 without spaces, '+' or controls");
  KeyPair kp;
  MV_TRY(key_pair(seed, kp));
  VerifierKey key;
  key.name = std::string(key_name);
  key.public_key = kp.pk;
  key.id = key_id(key_name, kp.pk);
  return key;
}

std::string format_verifier_key(const VerifierKey& key) {
  std::array<uint8_t, 1 + kPublicKeySize> typed;
  typed[0] = kSigTypeEd25519;
  std::memcpy(typed.data() + 1, key.public_key.data(), kPublicKeySize);
  return key_label(key.name, key.id) + "+" + base64(typed);
}

Result<VerifierKey> parse_verifier_key(std::string_view vkey) {
  while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r' || vkey.back() == ' '))
    vkey.remove_suffix(1);
  const auto bad = [](const char* why) {
    return make_error(Errc::invalid, std::string("verifier key: ") + why);
  };
  const size_t plus = vkey.find('+');
  if (plus == std::string_view::npos) return bad("expected <name>+<key id>+<key>");
  const std::string_view name = vkey.substr(0, plus);
  if (!valid_key_name(name)) return bad("invalid key name");
  const std::string_view rest = vkey.substr(plus + 1);
  if (rest.size() < 9 || rest[8] != '+') return bad("the key id must be 8 hexadecimal digits");
  uint32_t id = 0;
  for (char c : rest.substr(0, 8)) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return bad("the key id must be 8 hexadecimal digits");
    id = (id << 4) | static_cast<uint32_t>(v);
  }
  std::vector<uint8_t> typed;
  if (!unbase64(rest.substr(9), typed)) return bad("the key is not canonical base64");
  if (typed.size() != 1 + kPublicKeySize || typed[0] != kSigTypeEd25519)
    return bad("not an Ed25519 key (type 0x01, 32 bytes)");
  VerifierKey key;
  key.name = std::string(name);
  key.id = id;
  std::memcpy(key.public_key.data(), typed.data() + 1, kPublicKeySize);
  if (key_id(key.name, key.public_key) != id) return bad("the key id does not match the key");
  return key;
}

Result<std::string> sign_note(std::string_view text, std::span<const uint8_t> seed,
                              std::string_view key_name) {
  if (text.empty() || text.back() != '\n')
    return make_error(Errc::invalid, "a note text must end in a newline");
  if (check_text(text, true) != TextCheck::ok)
    return make_error(Errc::invalid, "a note text must be UTF-8 without control characters");
  if (!valid_key_name(key_name))
    return make_error(Errc::invalid,
                      "a key name must be non-empty UTF-8 without spaces, '+' or controls");
  KeyPair kp;
  MV_TRY(key_pair(seed, kp));
  std::array<uint8_t, 4 + kEd25519SigSize> sig;
  const uint32_t id = key_id(key_name, kp.pk);
  sig[0] = static_cast<uint8_t>(id >> 24);
  sig[1] = static_cast<uint8_t>(id >> 16);
  sig[2] = static_cast<uint8_t>(id >> 8);
  sig[3] = static_cast<uint8_t>(id);
  if (crypto_sign_detached(sig.data() + 4, nullptr, reinterpret_cast<const uint8_t*>(text.data()),
                           text.size(), kp.sk.data()) != 0)
    return make_error(Errc::internal, "Ed25519 signing failed");
  std::string note(text);
  note += '\n';
  note += kSigPrefix;
  note += key_name;
  note += ' ';
  note += base64(sig);
  note += '\n';
  if (note.size() > kMaxNoteSize)
    return make_error(Errc::invalid, "a signed note must not exceed 64 KiB");
  return note;
}

Result<std::string> verify_note(std::string_view note, const VerifierKey& key) {
  MV_TRY(ensure_sodium());
  if (note.size() > kMaxNoteSize) return note_error("larger than 64 KiB");
  switch (check_text(note, true)) {
    case TextCheck::ok: break;
    case TextCheck::bad_utf8: return note_error("not valid UTF-8");
    case TextCheck::control: return note_error("contains a control character");
  }
  if (note.empty() || note.back() != '\n') return note_error("does not end in a newline");
  // The text ends at the last blank line: signature lines are never empty.
  const size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) return note_error("no blank line before the signatures");
  const std::string_view text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return note_error("no signature lines");

  size_t count = 0;
  bool verified = false;
  std::vector<uint8_t> raw;
  while (!sigs.empty()) {
    const size_t eol = sigs.find('\n');  // present: the note ends in a newline
    std::string_view line = sigs.substr(0, eol);
    sigs.remove_prefix(eol + 1);
    const std::string where = "signature line " + std::to_string(++count);
    if (count > kMaxSignatures) return note_error("more than 100 signature lines");
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix)
      return note_error(where + " does not start with an em dash and a space");
    line.remove_prefix(kSigPrefix.size());
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return note_error(where + " has no signature");
    const std::string_view name = line.substr(0, sp);
    const std::string_view b64 = line.substr(sp + 1);
    if (!valid_key_name(name)) return note_error(where + " has an invalid key name");
    if (!unbase64(b64, raw)) return note_error(where + ": signature is not canonical base64");
    if (raw.size() < 5) return note_error(where + ": signature is too short");
    const uint32_t id = (uint32_t{raw[0]} << 24) | (uint32_t{raw[1]} << 16) |
                        (uint32_t{raw[2]} << 8) | raw[3];
    // Signatures by other keys (witnesses, rotated keys) are ignored, as the
    // spec requires; one by the expected key must verify.
    if (name != key.name || id != key.id) continue;
    if (raw.size() != 4 + kEd25519SigSize ||
        crypto_sign_verify_detached(raw.data() + 4, reinterpret_cast<const uint8_t*>(text.data()),
                                    text.size(), key.public_key.data()) != 0)
      return note_error("the signature by key " + key_label(key.name, key.id) +
                        " does not verify");
    verified = true;
  }
  if (!verified) return note_error("no signature by key " + key_label(key.name, key.id));
  return std::string(text);
}

Result<std::string> checkpoint_text(const Checkpoint& cp) {
  if (!valid_key_name(cp.origin))
    return make_error(Errc::invalid,
                      "a checkpoint origin must be non-empty UTF-8 without spaces, '+' or "
                      "controls");
  std::string text = cp.origin;
  text += '\n';
  text += std::to_string(cp.size);
  text += '\n';
  text += base64(cp.root);
  text += '\n';
  for (const std::string& ext : cp.extensions) {
    if (ext.empty() || check_text(ext, false) != TextCheck::ok)
      return make_error(Errc::invalid,
                        "a checkpoint extension line must be non-empty UTF-8 without controls");
    text += ext;
    text += '\n';
  }
  return text;
}

Result<Checkpoint> parse_checkpoint_text(std::string_view text) {
  if (text.size() > kMaxNoteSize) return checkpoint_error("larger than 64 KiB");
  if (text.empty() || text.back() != '\n') return checkpoint_error("does not end in a newline");
  switch (check_text(text, true)) {
    case TextCheck::ok: break;
    case TextCheck::bad_utf8: return checkpoint_error("not valid UTF-8");
    case TextCheck::control: return checkpoint_error("contains a control character");
  }
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t eol = rest.find('\n');
    lines.push_back(rest.substr(0, eol));
    rest.remove_prefix(eol + 1);
  }
  if (lines.size() < 3) return checkpoint_error("fewer than three lines");
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].empty()) return checkpoint_error("line " + std::to_string(i + 1) + " is empty");

  Checkpoint cp;
  cp.origin = std::string(lines[0]);
  const std::string_view size = lines[1];
  if (size.size() > 1 && size[0] == '0') return checkpoint_error("tree size has leading zeros");
  const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), cp.size);
  if (ec == std::errc::result_out_of_range) return checkpoint_error("tree size is too large");
  if (ec != std::errc() || end != size.data() + size.size())
    return checkpoint_error("tree size is not a decimal number");
  std::vector<uint8_t> root;
  if (!unbase64(lines[2], root) || root.size() != merkle::kHashSize)
    return checkpoint_error("root hash is not the canonical base64 of 32 bytes");
  std::memcpy(cp.root.data(), root.data(), merkle::kHashSize);
  for (size_t i = 3; i < lines.size(); ++i) cp.extensions.emplace_back(lines[i]);
  return cp;
}

Result<std::string> sign_checkpoint(std::string_view origin, uint64_t size,
                                    const merkle::Hash& root, std::span<const uint8_t> seed,
                                    std::string_view key_name,
                                    std::span<const std::string> extensions) {
  Checkpoint cp;
  cp.origin = std::string(origin);
  cp.size = size;
  cp.root = root;
  cp.extensions.assign(extensions.begin(), extensions.end());
  MV_ASSIGN(std::string text, checkpoint_text(cp));
  return sign_note(text, seed, key_name);
}

Result<Checkpoint> verify_checkpoint(std::string_view note, const VerifierKey& key,
                                     std::string_view expected_origin) {
  MV_ASSIGN(std::string text, verify_note(note, key));
  MV_ASSIGN(Checkpoint cp, parse_checkpoint_text(text));
  if (!expected_origin.empty() && cp.origin != expected_origin)
    return checkpoint_error("origin is not the expected log");
  return cp;
}

Result<Checkpoint> verify_checkpoint(std::string_view note, std::string_view vkey,
                                     std::string_view expected_origin) {
  MV_ASSIGN(VerifierKey key, parse_verifier_key(vkey));
  return verify_checkpoint(note, key, expected_origin);
}

}  // namespace medvault::audit
