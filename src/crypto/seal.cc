#include "crypto/seal.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <new>
#include <optional>

#include "common/file.h"
#include "crypto/aead.h"
#include "crypto/encoding.h"

extern "C" {
#include <libgfshare.h>
}

namespace medvault::crypto {

namespace json = boost::json;

namespace {

// One key slot. Which fields are meaningful depends on the kind; the others
// stay zero. The formats are in docs/formats/crypto.md.
struct SlotRecord {
  enum class Kind { passphrase, keyfile, recovery };
  Kind kind = Kind::passphrase;
  std::array<uint8_t, 16> salt{};  // passphrase, keyfile
  uint64_t opslimit = 0;           // passphrase
  uint64_t memlimit = 0;           // passphrase
  int n = 0;                       // recovery: shares made
  int k = 0;                       // recovery: shares needed
  std::string backup_pk;           // recovery: X25519 backup public key (32 bytes) or ""
  std::string wrapped;             // aead.h blob of the master key
};

using Slot = SlotRecord;
using Kind = SlotRecord::Kind;

constexpr std::string_view kFormatName = "medvault-seal";
constexpr uint64_t kFormatVersion = 1;
constexpr std::string_view kSharePrefix = "medvault-share-v1:";
constexpr size_t kWrappedSize = kSealOverhead + SecretKey::kSize;
constexpr size_t kMaxFileSize = 1 << 20;
constexpr size_t kMaxVaultIdSize = 128;
// Bounds on the Argon2id parameters a seal file may ask for, so that a
// hostile file cannot make unsealing run for hours or allocate terabytes.
constexpr uint64_t kMaxOpslimit = 64;
constexpr uint64_t kMaxMemlimit = uint64_t{4} << 30;
static_assert(sizeof(Slot::salt) == crypto_pwhash_SALTBYTES);

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::passphrase: return "passphrase";
    case Kind::keyfile: return "keyfile";
    case Kind::recovery: return "recovery";
  }
  return "?";
}

std::optional<Kind> parse_kind(std::string_view s) {
  for (Kind k : {Kind::passphrase, Kind::keyfile, Kind::recovery})
    if (s == kind_name(k)) return k;
  return std::nullopt;
}

std::string_view as_chars(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

Error sealed(std::string message) { return make_error(Errc::sealed, std::move(message)); }

// Associated data of a slot's wrapped master key: binds it to the vault, the
// slot kind and every parameter of the slot.
std::string slot_ad(const std::string& vault_id, const Slot& s) {
  std::string ad = "medvault-seal-v1";
  encoding::put_field(ad, vault_id);
  encoding::put_field(ad, kind_name(s.kind));
  switch (s.kind) {
    case Kind::passphrase:
      encoding::put_field(ad, as_chars(s.salt));
      encoding::put_u64(ad, s.opslimit);
      encoding::put_u64(ad, s.memlimit);
      break;
    case Kind::keyfile:
      encoding::put_field(ad, as_chars(s.salt));
      break;
    case Kind::recovery:
      encoding::put_u64(ad, static_cast<uint64_t>(s.n));
      encoding::put_u64(ad, static_cast<uint64_t>(s.k));
      // Seals written before backups existed have no backup key; their AD is unchanged.
      if (!s.backup_pk.empty()) encoding::put_field(ad, s.backup_pk);
      break;
  }
  return ad;
}

std::string to_hex(std::span<const uint8_t> b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

std::string blake2b_hex(std::string_view s) {
  std::array<uint8_t, crypto_generichash_BYTES> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                     nullptr, 0);
  return to_hex(h);
}

// Detects accidental corruption, so that a damaged file is reported as such
// rather than as a wrong passphrase. (Deliberate edits are caught by the
// AEAD tags; this checksum is not keyed.)
template <typename SlotT>
std::string file_checksum(const std::string& vault_id, const std::vector<SlotT>& slots) {
  std::string in = "medvault-seal-checksum-v1";
  encoding::put_u64(in, kFormatVersion);
  encoding::put_field(in, vault_id);
  encoding::put_u64(in, slots.size());
  for (const auto& s : slots) {
    encoding::put_field(in, slot_ad(vault_id, s));
    encoding::put_field(in, s.wrapped);
  }
  return blake2b_hex(in);
}

std::string to_base64(std::span<const uint8_t> b) {
  constexpr int v = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(b.size(), v), '\0');
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), v);
  out.pop_back();  // NUL
  return out;
}

// Strict (canonical, padded) base64 of exactly out.size() bytes.
bool from_base64(std::string_view s, std::span<uint8_t> out) {
  size_t len = 0;
  return sodium_base642bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, nullptr,
                           sodium_base64_VARIANT_ORIGINAL) == 0 &&
         len == out.size();
}

bool valid_vault_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxVaultIdSize) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f && c != ':'; });
}

template <typename Int>
std::optional<Int> parse_decimal(std::string_view s) {
  Int v{};
  if (s.empty() || s.size() > 4) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// libgfshare draws its polynomial coefficients from this hook, and also uses
// it to scrub contexts when freeing them; it is NULL until set.
void use_sodium_for_gfshare() {
  static std::once_flag once;
  std::call_once(once, [] {
    gfshare_fill_rand = [](unsigned char* buf, unsigned int n) { randombytes_buf(buf, n); };
  });
}

// Wrapping key of a key-file slot. BLAKE2b keys are at most 64 bytes, so the
// key file is first digested (BLAKE2b-512), and the digest keys BLAKE2b-256
// over the slot's salt.
SecretKey keyfile_key(std::span<const uint8_t> keyfile, const std::array<uint8_t, 16>& salt) {
  std::array<uint8_t, crypto_generichash_BYTES_MAX> digest{};
  crypto_generichash(digest.data(), digest.size(), keyfile.data(), keyfile.size(), nullptr, 0);
  std::string msg = "medvault-keyfile-v1";
  msg.append(as_chars(salt));
  SecretKey k;
  crypto_generichash(k.data(), SecretKey::kSize, reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size(), digest.data(), digest.size());
  sodium_memzero(digest.data(), digest.size());
  return k;
}

// Slots are private to KeySeal; a template lets this helper take them.
template <typename SlotT>
const SlotT* find_slot(const std::vector<SlotT>& slots, Kind kind) {
  for (const auto& s : slots)
    if (s.kind == kind) return &s;
  return nullptr;
}

template <typename SlotT>
void put_slot(std::vector<SlotT>& slots, SlotT slot) {
  for (auto& s : slots)
    if (s.kind == slot.kind) {
      s = std::move(slot);
      return;
    }
  slots.push_back(std::move(slot));
}

// ---- share text ------------------------------------------------------------
// medvault-share-v1:<vault id>:<k>:<n>:<number>:<base64 share>:<checksum>

std::string share_checksum(std::string_view body) { return blake2b_hex(body).substr(0, 8); }

std::string format_share(const std::string& vault_id, int k, int n, int number,
                         std::span<const uint8_t> share) {
  std::string body = std::string(kSharePrefix) + vault_id + ":" + std::to_string(k) + ":" +
                     std::to_string(n) + ":" + std::to_string(number) + ":" + to_base64(share);
  return body + ":" + share_checksum(body);
}

struct ParsedShare {
  int number = 0;
  std::array<uint8_t, SecretKey::kSize> bytes{};
  ParsedShare() = default;
  ParsedShare(const ParsedShare&) = default;
  ParsedShare& operator=(const ParsedShare&) = default;
  ~ParsedShare() { sodium_memzero(bytes.data(), bytes.size()); }
};

Result<ParsedShare> parse_share(std::string_view text, size_t position, const std::string& vault_id,
                                const Slot& slot) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  std::string label = "share #" + std::to_string(position) + " (in the order given)";
  if (!text.starts_with(kSharePrefix)) return sealed(label + " is not a medvault recovery share");

  // The last five fields, split from the right, then the vault id.
  std::array<std::string_view, 5> f;  // k, n, number, share, checksum
  std::string_view rest = text.substr(kSharePrefix.size());
  for (size_t i = f.size(); i-- > 0;) {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return sealed(label + " is damaged (missing fields)");
    f[i] = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  const std::string_view share_vault = rest;
  auto number = parse_decimal<int>(f[2]);
  if (number && *number >= 1 && *number <= 255) label = "share " + std::to_string(*number);

  std::string sum(f[4]);
  std::transform(sum.begin(), sum.end(), sum.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
  if (sum != share_checksum(text.substr(0, text.size() - f[4].size() - 1)))
    return sealed(label + " is damaged (checksum)");
  if (share_vault != vault_id) return sealed(label + " belongs to another vault");
  auto k = parse_decimal<int>(f[0]);
  auto n = parse_decimal<int>(f[1]);
  if (!k || !n) return sealed(label + " is damaged (k or n)");
  if (*k != slot.k || *n != slot.n)
    return sealed(label + " is from another recovery kit (" + std::to_string(*k) + " of " +
                  std::to_string(*n) + "); this vault's kit is " + std::to_string(slot.k) + " of " +
                  std::to_string(slot.n));
  if (!number || *number < 1 || *number > slot.n) return sealed(label + " is damaged (share number)");
  ParsedShare p;
  p.number = *number;
  if (!from_base64(f[3], p.bytes)) return sealed(label + " is damaged (share bytes)");
  return p;
}

// ---- seal file parsing -----------------------------------------------------

class Parser {
 public:
  explicit Parser(const std::filesystem::path& path) : path_(path.string()) {}

  Error corrupt(const std::string& why) const {
    return sealed("seal file " + path_ + " is corrupt: " + why);
  }
  Error truncated() const { return sealed("seal file " + path_ + " is truncated"); }

  const json::value* get(const json::object& o, std::string_view key) const { return o.if_contains(key); }

  std::optional<std::string_view> string(const json::object& o, std::string_view key) const {
    const auto* v = get(o, key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string_view(v->get_string());
  }

  std::optional<uint64_t> uint(const json::object& o, std::string_view key) const {
    const auto* v = get(o, key);
    if (v == nullptr) return std::nullopt;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
    return std::nullopt;
  }

  Result<Slot> slot(const json::value& v) const {
    if (!v.is_object()) return corrupt("a slot is not an object");
    const auto& o = v.get_object();
    auto kind_s = string(o, "kind");
    if (!kind_s) return corrupt("a slot has no kind");
    auto kind = parse_kind(*kind_s);
    if (!kind) return corrupt("unknown slot kind");
    Slot s;
    s.kind = *kind;
    const std::string name(kind_name(s.kind));
    if (s.kind != Kind::recovery) {
      auto salt = string(o, "salt");
      if (!salt || !from_base64(*salt, s.salt)) return corrupt(name + " slot: bad salt");
    }
    if (s.kind == Kind::passphrase) {
      auto ops = uint(o, "opslimit");
      auto mem = uint(o, "memlimit");
      if (!ops || *ops < crypto_pwhash_OPSLIMIT_MIN || *ops > kMaxOpslimit)
        return corrupt(name + " slot: bad opslimit");
      if (!mem || *mem < crypto_pwhash_MEMLIMIT_MIN || *mem > kMaxMemlimit)
        return corrupt(name + " slot: bad memlimit");
      s.opslimit = *ops;
      s.memlimit = *mem;
    }
    if (s.kind == Kind::recovery) {
      auto n = uint(o, "n");
      auto k = uint(o, "k");
      if (!n || !k || *k < 2 || *k > *n || *n > 255) return corrupt(name + " slot: bad n or k");
      s.n = static_cast<int>(*n);
      s.k = static_cast<int>(*k);
      if (get(o, "backup_key") != nullptr) {
        auto pk_s = string(o, "backup_key");
        std::array<uint8_t, crypto_box_PUBLICKEYBYTES> pk{};
        if (!pk_s || !from_base64(*pk_s, pk)) return corrupt(name + " slot: bad backup key");
        s.backup_pk.assign(as_chars(pk));
      }
    }
    auto wrapped = string(o, "wrapped");
    std::array<uint8_t, kWrappedSize> w{};
    if (!wrapped || !from_base64(*wrapped, w)) return corrupt(name + " slot: bad wrapped key");
    s.wrapped.assign(as_chars(w));
    return s;
  }

  struct Parsed {
    std::string vault_id;
    std::vector<Slot> slots;
  };

  Result<Parsed> file(std::string_view text) const {
    // The file is one line of JSON and its newline: a file that does not end
    // with the newline was cut short.
    if (text.empty() || text.back() != '\n') return truncated();
    text.remove_suffix(1);
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec == json::error::incomplete) return truncated();
    if (ec) return corrupt("not valid JSON");
    if (!v.is_object()) return corrupt("not a JSON object");
    const auto& o = v.get_object();
    if (string(o, "format") != kFormatName) return corrupt("not a medvault seal file");
    auto version = uint(o, "version");
    if (!version) return corrupt("no format version");
    if (*version != kFormatVersion) return corrupt("unsupported format version " + std::to_string(*version));
    auto vault_id = string(o, "vault_id");
    if (!vault_id || !valid_vault_id(*vault_id)) return corrupt("bad vault id");
    const auto* slots = get(o, "slots");
    if (slots == nullptr || !slots->is_array()) return corrupt("no slots");
    if (slots->get_array().empty()) return corrupt("no key slots");
    Parsed out{std::string(*vault_id), {}};
    auto& parsed = out.slots;
    for (const auto& sv : slots->get_array()) {
      MV_ASSIGN(Slot s, slot(sv));
      for (const auto& other : parsed)
        if (other.kind == s.kind) return corrupt("two " + std::string(kind_name(s.kind)) + " slots");
      parsed.push_back(std::move(s));
    }
    auto sum = string(o, "checksum");
    if (!sum || *sum != file_checksum(out.vault_id, parsed)) return corrupt("checksum mismatch");
    return out;
  }

 private:
  std::string path_;
};

}  // namespace

// ---- KeySeal ---------------------------------------------------------------

Argon2Params Argon2Params::moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

Argon2Params Argon2Params::interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

struct KeySeal::Slot : SlotRecord {};

KeySeal::KeySeal(std::string vault_id) : vault_id_(std::move(vault_id)) {}
KeySeal::~KeySeal() = default;
KeySeal::KeySeal(KeySeal&&) noexcept = default;
KeySeal& KeySeal::operator=(KeySeal&&) noexcept = default;

Result<KeySeal> KeySeal::load(const std::filesystem::path& path) {
  auto text = read_file(path, kMaxFileSize);
  if (!text.ok()) {
    if (text.error().code == Errc::too_large) return Parser(path).corrupt("larger than 1 MiB");
    return sealed("cannot read seal file: " + text.error().message);
  }
  return parse(*text, path.string());
}

Result<KeySeal> KeySeal::parse(std::string_view text, const std::string& where) {
  Parser parser(where);
  if (text.size() > kMaxFileSize) return parser.corrupt("larger than 1 MiB");
  try {
    MV_ASSIGN(auto parsed, parser.file(text));
    KeySeal seal(std::move(parsed.vault_id));
    for (auto& s : parsed.slots) seal.slots_.push_back(Slot{std::move(s)});
    return seal;
  } catch (const std::exception&) {  // Boost.JSON reports errors by code; this is allocation failure
    return parser.corrupt("cannot be parsed");
  }
}

Status KeySeal::save(const std::filesystem::path& path) const {
  MV_ASSIGN(auto text, serialize());
  return write_file_atomic(path, text, 0600);
}

Result<std::string> KeySeal::serialize() const {
  if (!valid_vault_id(vault_id_)) return make_error(Errc::invalid, "the vault id cannot be written to a seal file");
  std::string text;
  try {
    json::array slots;
    for (const auto& s : slots_) {
      json::object o;
      o["kind"] = kind_name(s.kind);
      if (s.kind != Kind::recovery) o["salt"] = to_base64(s.salt);
      if (s.kind == Kind::passphrase) {
        o["opslimit"] = s.opslimit;
        o["memlimit"] = s.memlimit;
      }
      if (s.kind == Kind::recovery) {
        o["n"] = s.n;
        o["k"] = s.k;
        if (!s.backup_pk.empty())
          o["backup_key"] = to_base64({reinterpret_cast<const uint8_t*>(s.backup_pk.data()), s.backup_pk.size()});
      }
      o["wrapped"] = to_base64({reinterpret_cast<const uint8_t*>(s.wrapped.data()), s.wrapped.size()});
      slots.push_back(std::move(o));
    }
    json::object root;
    root["format"] = kFormatName;
    root["version"] = kFormatVersion;
    root["vault_id"] = vault_id_;
    root["slots"] = std::move(slots);
    root["checksum"] = file_checksum(vault_id_, slots_);
    text = json::serialize(root) + "\n";
  } catch (const std::exception&) {
    return make_error(Errc::internal, "cannot serialise the seal file (out of memory)");
  }
  return text;
}

bool KeySeal::has_passphrase() const { return find_slot(slots_, Kind::passphrase) != nullptr; }
bool KeySeal::has_keyfile() const { return find_slot(slots_, Kind::keyfile) != nullptr; }
bool KeySeal::has_recovery() const { return find_slot(slots_, Kind::recovery) != nullptr; }

int KeySeal::recovery_threshold() const {
  const auto* s = find_slot(slots_, Kind::recovery);
  return s ? s->k : 0;
}

int KeySeal::recovery_shares() const {
  const auto* s = find_slot(slots_, Kind::recovery);
  return s ? s->n : 0;
}

Result<SecretKey> KeySeal::unseal_passphrase(std::string_view passphrase) const {
  const auto* s = find_slot(slots_, Kind::passphrase);
  if (s == nullptr) return sealed("this vault has no passphrase slot");
  SecretKey wk;
  if (crypto_pwhash(wk.data(), SecretKey::kSize, passphrase.data(), passphrase.size(), s->salt.data(),
                    s->opslimit, static_cast<size_t>(s->memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0)
    return make_error(Errc::internal, "cannot derive the passphrase key (Argon2id is out of memory)");
  auto master = unwrap_key(wk, slot_ad(vault_id_, *s), s->wrapped);
  if (!master.ok()) return sealed("wrong passphrase");
  return master;
}

Result<SecretKey> KeySeal::unseal_keyfile(std::span<const uint8_t> keyfile) const {
  const auto* s = find_slot(slots_, Kind::keyfile);
  if (s == nullptr) return sealed("this vault has no key-file slot");
  auto master = unwrap_key(keyfile_key(keyfile, s->salt), slot_ad(vault_id_, *s), s->wrapped);
  if (!master.ok()) return sealed("wrong key file");
  return master;
}

namespace {

// Combines k or more shares of (vault_id, slot.k, slot.n) into the recovery
// key, unproven.
Result<SecretKey> combine(const std::string& vault_id_, const Slot& slot, const std::vector<std::string>& share_texts) {
  const Slot* s = &slot;
  std::vector<ParsedShare> shares;
  for (size_t i = 0; i < share_texts.size(); ++i) {
    MV_ASSIGN(ParsedShare p, parse_share(share_texts[i], i + 1, vault_id_, *s));
    // The same share given twice counts once; two different shares with the
    // same number cannot both belong to this kit.
    auto same = std::find_if(shares.begin(), shares.end(), [&](const auto& q) { return q.number == p.number; });
    if (same == shares.end()) {
      shares.push_back(p);
    } else if (sodium_memcmp(same->bytes.data(), p.bytes.data(), p.bytes.size()) != 0) {
      return sealed("two different shares carry number " + std::to_string(p.number));
    }
  }
  if (shares.size() < static_cast<size_t>(s->k))
    return sealed("need " + std::to_string(s->k) + " shares, got " + std::to_string(shares.size()));

  use_sodium_for_gfshare();
  std::vector<unsigned char> numbers;
  for (const auto& p : shares) numbers.push_back(static_cast<unsigned char>(p.number));
  gfshare_ctx* ctx = gfshare_ctx_init_dec(numbers.data(), static_cast<unsigned>(numbers.size()), SecretKey::kSize);
  if (ctx == nullptr) return make_error(Errc::internal, "cannot combine the recovery shares");
  for (size_t i = 0; i < shares.size(); ++i)
    gfshare_ctx_dec_giveshare(ctx, static_cast<unsigned char>(i), shares[i].bytes.data());
  SecretKey recovery_key;
  gfshare_ctx_dec_extract(ctx, recovery_key.data());
  gfshare_ctx_free(ctx);  // scrubs its buffers

  return recovery_key;
}

}  // namespace

namespace {

// The backup key pair of a recovery key: crypto_kdf sub-key 1 of context
// "mvbackup" is the seed of an X25519 (crypto_box) key pair.
void backup_keypair(const SecretKey& recovery_key, std::array<uint8_t, crypto_box_PUBLICKEYBYTES>& pk,
                    SecretKey& sk) {
  SecretKey seed;
  crypto_kdf_derive_from_key(seed.data(), SecretKey::kSize, 1, "mvbackup", recovery_key.data());
  static_assert(crypto_box_SEEDBYTES == SecretKey::kSize && crypto_box_SECRETKEYBYTES == SecretKey::kSize);
  crypto_box_seed_keypair(pk.data(), sk.data(), seed.data());
}

}  // namespace

std::string KeySeal::recovery_public_key() const {
  const auto* s = find_slot(slots_, Kind::recovery);
  return s ? s->backup_pk : std::string();
}

Result<SecretKey> KeySeal::backup_key_from_shares(const std::string& vault_id, int k, int n,
                                                  std::string_view public_key,
                                                  const std::vector<std::string>& share_texts) {
  if (k < 2 || k > n || n > 255) return sealed("the backup names an impossible recovery kit");
  Slot slot;
  slot.kind = Kind::recovery;
  slot.k = k;
  slot.n = n;
  MV_ASSIGN(auto recovery_key, combine(vault_id, slot, share_texts));
  std::array<uint8_t, crypto_box_PUBLICKEYBYTES> pk{};
  SecretKey sk;
  backup_keypair(recovery_key, pk, sk);
  // The derived public key is the proof that the shares are right.
  if (as_chars(pk) != public_key) return sealed("these shares do not open this backup");
  return sk;
}

Result<SecretKey> KeySeal::unseal_shares(const std::vector<std::string>& share_texts) const {
  MV_ASSIGN(auto recovery_key, combine_shares(share_texts));
  return unwrap_key(recovery_key, slot_ad(vault_id_, *find_slot(slots_, Kind::recovery)),
                    find_slot(slots_, Kind::recovery)->wrapped);
}

Result<SecretKey> KeySeal::combine_shares(const std::vector<std::string>& share_texts) const {
  const auto* s = find_slot(slots_, Kind::recovery);
  if (s == nullptr) return sealed("this vault has no recovery slot");
  MV_ASSIGN(auto recovery_key, combine(vault_id_, *s, share_texts));
  // The recovery key is proven by unwrapping the slot.
  if (!unwrap_key(recovery_key, slot_ad(vault_id_, *s), s->wrapped).ok())
    return sealed("these shares do not unseal this vault");
  return recovery_key;
}

void KeySeal::set_passphrase(const SecretKey& master, std::string_view passphrase, const Argon2Params& params) {
  // REQUIRES parameters that load() accepts.
  if (params.opslimit < crypto_pwhash_OPSLIMIT_MIN || params.opslimit > kMaxOpslimit ||
      params.memlimit < crypto_pwhash_MEMLIMIT_MIN || params.memlimit > kMaxMemlimit)
    std::abort();
  Slot s;
  s.kind = Kind::passphrase;
  randombytes_buf(s.salt.data(), s.salt.size());
  s.opslimit = params.opslimit;
  s.memlimit = params.memlimit;
  SecretKey wk;
  // Fails only when Argon2id cannot allocate memlimit bytes.
  if (crypto_pwhash(wk.data(), SecretKey::kSize, passphrase.data(), passphrase.size(), s.salt.data(),
                    s.opslimit, params.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::bad_alloc();
  s.wrapped = wrap_key(wk, slot_ad(vault_id_, s), master);
  put_slot(slots_, std::move(s));
}

void KeySeal::set_keyfile(const SecretKey& master, std::span<const uint8_t> keyfile) {
  Slot s;
  s.kind = Kind::keyfile;
  randombytes_buf(s.salt.data(), s.salt.size());
  s.wrapped = wrap_key(keyfile_key(keyfile, s.salt), slot_ad(vault_id_, s), master);
  put_slot(slots_, std::move(s));
}

std::vector<ShareFile> KeySeal::set_recovery(const SecretKey& master, int n, int k) {
  if (k < 2 || k > n || n > 255) std::abort();  // REQUIRES 2 <= k <= n <= 255
  use_sodium_for_gfshare();
  auto recovery_key = SecretKey::random();
  std::vector<unsigned char> numbers(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) numbers[static_cast<size_t>(i)] = static_cast<unsigned char>(i + 1);
  gfshare_ctx* ctx = gfshare_ctx_init_enc(numbers.data(), static_cast<unsigned>(n), static_cast<unsigned char>(k),
                                          SecretKey::kSize);
  if (ctx == nullptr) throw std::bad_alloc();  // the arguments are valid: only allocation fails
  gfshare_ctx_enc_setsecret(ctx, recovery_key.data());
  std::vector<ShareFile> out;
  std::array<uint8_t, SecretKey::kSize> share{};
  for (int i = 0; i < n; ++i) {
    gfshare_ctx_enc_getshare(ctx, static_cast<unsigned char>(i), share.data());
    out.push_back({format_share(vault_id_, k, n, i + 1, share), i + 1});
  }
  sodium_memzero(share.data(), share.size());
  gfshare_ctx_free(ctx);

  Slot s;
  s.kind = Kind::recovery;
  s.n = n;
  s.k = k;
  std::array<uint8_t, crypto_box_PUBLICKEYBYTES> pk{};
  SecretKey backup_sk;
  backup_keypair(recovery_key, pk, backup_sk);
  s.backup_pk.assign(as_chars(pk));
  s.wrapped = wrap_key(recovery_key, slot_ad(vault_id_, s), master);
  put_slot(slots_, std::move(s));
  return out;
}

}  // namespace medvault::crypto
