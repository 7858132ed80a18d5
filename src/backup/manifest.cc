#include "backup/manifest.h"

#include <sodium.h>

#include <boost/json.hpp>
#include <cstdio>

#include <set>

namespace medvault::backup {
namespace json = boost::json;
namespace {

constexpr std::string_view kFormat = "medvault-backup-manifest";
constexpr std::string_view kTombFormat = "medvault-backup-pruned";
constexpr std::string_view kSigContext = "medvault-backup-manifest-v1\n";
constexpr std::string_view kTombContext = "medvault-backup-pruned-v1\n";
// vault.db, master.seal, the TLS files and the audit log's segments (2^16
// entries each).
constexpr size_t kMaxFiles = 65536;
constexpr size_t kMaxChunksPerFile = 4 << 20;

std::string hex(std::string_view b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(b.data()), b.size());
  out.pop_back();
  return out;
}

std::string b64(std::string_view b) {
  std::string out(sodium_base64_ENCODED_LEN(b.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(b.data()), b.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

bool unb64(std::string_view s, size_t want, std::string& out) {
  out.assign(want, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), want, s.data(), s.size(), nullptr, &len,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != want || end != s.data() + s.size())
    return false;
  return true;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Error bad(const std::string& why) { return make_error(Errc::integrity, why); }

// Field access on untrusted JSON, every miss an error.
struct Reader {
  const json::object& o;
  Result<std::string> str(std::string_view k, size_t max = 4096) const {
    auto* v = o.if_contains(k);
    if (v == nullptr || !v->is_string() || v->get_string().size() > max)
      return bad("field \"" + std::string(k) + "\" missing or not a string");
    return std::string(v->get_string());
  }
  Result<uint64_t> u64(std::string_view k, uint64_t max) const {
    auto* v = o.if_contains(k);
    uint64_t x = 0;
    if (v != nullptr && v->is_uint64()) x = v->get_uint64();
    else if (v != nullptr && v->is_int64() && v->get_int64() >= 0) x = static_cast<uint64_t>(v->get_int64());
    else return bad("field \"" + std::string(k) + "\" missing or not a non-negative integer");
    if (x > max) return bad("field \"" + std::string(k) + "\" is out of range");
    return x;
  }
  Result<const json::array*> arr(std::string_view k) const {
    auto* v = o.if_contains(k);
    if (v == nullptr || !v->is_array()) return bad("field \"" + std::string(k) + "\" missing or not an array");
    return &v->get_array();
  }
};

// Splits "<json>\n<signature>\n", checks the signature under the key read
// from the JSON by `key_of`, and returns the parsed object.
Result<json::value> signed_json(std::string_view bytes, std::string_view context, std::string& key) {
  if (bytes.size() > kMaxManifestSize) return bad("larger than 64 MiB");
  if (bytes.empty() || bytes.back() != '\n') return bad("truncated");
  size_t nl = bytes.find('\n');
  std::string_view body = bytes.substr(0, nl);
  std::string_view sig_line = bytes.substr(nl + 1, bytes.size() - nl - 2);
  if (sig_line.find('\n') != std::string_view::npos) return bad("trailing data");
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return bad("not valid JSON");
  Reader r{v.get_object()};
  MV_ASSIGN(auto key_b64, r.str("signing_key", 64));
  if (!unb64(key_b64, crypto_sign_PUBLICKEYBYTES, key)) return bad("bad signing key");
  std::string sig;
  if (!unb64(sig_line, crypto_sign_BYTES, sig)) return bad("bad signature encoding");
  std::string msg(context);
  msg.append(body);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                  reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                  reinterpret_cast<const unsigned char*>(key.data())) != 0)
    return bad("bad signature");
  return v;
}

std::string sign_body(const std::string& body, std::string_view context, const crypto::SecretKey& seed) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, seed.data());
  std::string msg(context);
  msg.append(body);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), sk);
  sodium_memzero(sk, sizeof sk);
  return body + "\n" + b64({reinterpret_cast<const char*>(sig), sizeof sig}) + "\n";
}

std::string numbered(std::string_view folder, uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%010llu", static_cast<unsigned long long>(seq));
  return std::string(folder) + "/" + buf;
}

}  // namespace

std::string manifest_name(uint64_t seq) { return numbered("manifests", seq); }
std::string tombstone_name(uint64_t seq) { return numbered("pruned", seq); }
std::string chunk_name(std::string_view id) {
  return "chunks/" + std::string(id.substr(0, 2)) + "/" + std::string(id);
}

uint64_t seq_of(std::string_view name) {
  size_t slash = name.rfind('/');
  std::string_view n = slash == std::string_view::npos ? name : name.substr(slash + 1);
  if (n.size() != 10) return 0;
  uint64_t v = 0;
  for (char c : n) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::string object_hash(std::string_view bytes) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), nullptr, 0);
  return hex({reinterpret_cast<const char*>(h), sizeof h});
}

std::string signing_public_key(const crypto::SecretKey& seed) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, seed.data());
  sodium_memzero(sk, sizeof sk);
  return std::string(reinterpret_cast<const char*>(pk), sizeof pk);
}

std::string sign_manifest(Manifest m, const crypto::SecretKey& seed) {
  m.signing_key = signing_public_key(seed);
  json::object o;
  o["format"] = kFormat;
  o["version"] = 1;
  o["seq"] = m.seq;
  o["vault_id"] = m.vault_id;
  o["created_ms"] = m.created_ms;
  o["prev"] = m.prev;
  o["signing_key"] = b64(m.signing_key);
  o["recovery_key"] = b64(m.recovery_key);
  o["recovery_k"] = m.recovery_k;
  o["recovery_n"] = m.recovery_n;
  o["audit_size"] = m.audit_size;
  o["audit_root"] = m.audit_root;
  o["new_chunks"] = m.new_chunks;
  o["new_stored"] = m.new_stored;
  json::array files;
  for (const auto& f : m.files) {
    json::object fo;
    fo["name"] = f.name;
    fo["size"] = f.size;
    json::array chunks;
    for (const auto& c : f.chunks) chunks.push_back(json::array{c.id, c.size, c.stored, c.hash});
    fo["chunks"] = std::move(chunks);
    files.push_back(std::move(fo));
  }
  o["files"] = std::move(files);
  return sign_body(json::serialize(o), kSigContext, seed);
}

Result<Manifest> parse_manifest(std::string_view bytes) {
  try {
    Manifest m;
    MV_ASSIGN(auto v, signed_json(bytes, kSigContext, m.signing_key));
    Reader r{v.get_object()};
    MV_ASSIGN(auto format, r.str("format"));
    if (format != kFormat) return bad("not a medvault backup manifest");
    MV_ASSIGN(auto version, r.u64("version", 1000));
    if (version != 1) return bad("unsupported manifest version " + std::to_string(version));
    MV_ASSIGN(m.seq, r.u64("seq", 9'999'999'999));
    if (m.seq == 0) return bad("sequence number 0");
    MV_ASSIGN(m.vault_id, r.str("vault_id", 128));
    MV_ASSIGN(auto created, r.u64("created_ms", uint64_t{1} << 50));
    m.created_ms = static_cast<int64_t>(created);
    MV_ASSIGN(m.prev, r.str("prev", 64));
    if (m.seq == 1 ? !m.prev.empty() : !is_hex64(m.prev)) return bad("bad link to the previous manifest");
    MV_ASSIGN(auto rk, r.str("recovery_key", 64));
    if (!unb64(rk, crypto_box_PUBLICKEYBYTES, m.recovery_key)) return bad("bad recovery key");
    MV_ASSIGN(auto k, r.u64("recovery_k", 255));
    MV_ASSIGN(auto n, r.u64("recovery_n", 255));
    if (k < 2 || k > n) return bad("bad recovery kit size");
    m.recovery_k = static_cast<int>(k);
    m.recovery_n = static_cast<int>(n);
    MV_ASSIGN(m.audit_size, r.u64("audit_size", uint64_t{1} << 48));
    MV_ASSIGN(m.audit_root, r.str("audit_root", 64));
    if (!m.audit_root.empty() && !is_hex64(m.audit_root)) return bad("bad audit root");
    MV_ASSIGN(m.new_chunks, r.u64("new_chunks", uint64_t{1} << 48));
    MV_ASSIGN(m.new_stored, r.u64("new_stored", uint64_t{1} << 60));
    MV_ASSIGN(auto files, r.arr("files"));
    if (files->size() > kMaxFiles) return bad("too many files");
    std::set<std::string> names;
    for (const auto& fv : *files) {
      if (!fv.is_object()) return bad("a file entry is not an object");
      Reader fr{fv.get_object()};
      FileEntry f;
      MV_ASSIGN(f.name, fr.str("name", 256));
      if (f.name.empty() || f.name.front() == '/' || f.name.find("..") != std::string::npos ||
          f.name.find('\\') != std::string::npos)
        return bad("bad file name");
      if (!names.insert(f.name).second) return bad("file " + f.name + " listed twice");
      MV_ASSIGN(f.size, fr.u64("size", kMaxFileSize));
      MV_ASSIGN(auto chunks, fr.arr("chunks"));
      if (chunks->size() > kMaxChunksPerFile) return bad("too many chunks");
      uint64_t total = 0;
      for (const auto& cv : *chunks) {
        if (!cv.is_array() || cv.get_array().size() != 4) return bad("bad chunk entry");
        const auto& a = cv.get_array();
        if (!a[0].is_string() || !a[1].is_number() || !a[2].is_number() || !a[3].is_string())
          return bad("bad chunk entry");
        ChunkRef c;
        c.id = std::string(a[0].get_string());
        c.hash = std::string(a[3].get_string());
        if (!is_hex64(c.id) || !is_hex64(c.hash)) return bad("bad chunk id or hash");
        if (!a[1].is_uint64() && !(a[1].is_int64() && a[1].get_int64() >= 0)) return bad("bad chunk size");
        if (!a[2].is_uint64() && !(a[2].is_int64() && a[2].get_int64() >= 0)) return bad("bad chunk size");
        c.size = a[1].to_number<uint64_t>();
        c.stored = a[2].to_number<uint64_t>();
        if (c.size == 0 || c.size > kMaxChunkSize || c.stored > 2 * kMaxChunkSize) return bad("chunk size out of range");
        total += c.size;
        f.chunks.push_back(std::move(c));
      }
      if (total != f.size) return bad("file " + f.name + ": chunk sizes do not add up");
      m.files.push_back(std::move(f));
    }
    return m;
  } catch (const std::exception&) {  // allocation failure or a number conversion
    return bad("cannot be parsed");
  }
}

std::string sign_tombstone(Tombstone t, const crypto::SecretKey& seed) {
  json::object o;
  o["format"] = kTombFormat;
  o["seq"] = t.seq;
  o["hash"] = t.hash;
  o["prev"] = t.prev;
  o["signing_key"] = b64(signing_public_key(seed));
  return sign_body(json::serialize(o), kTombContext, seed);
}

Result<Tombstone> parse_tombstone(std::string_view bytes) {
  try {
    Tombstone t;
    if (bytes.size() > 4096) return bad("too large");
    MV_ASSIGN(auto v, signed_json(bytes, kTombContext, t.signing_key));
    Reader r{v.get_object()};
    MV_ASSIGN(auto format, r.str("format"));
    if (format != kTombFormat) return bad("not a prune record");
    MV_ASSIGN(t.seq, r.u64("seq", 9'999'999'999));
    MV_ASSIGN(t.hash, r.str("hash", 64));
    MV_ASSIGN(t.prev, r.str("prev", 64));
    if (t.seq == 0 || !is_hex64(t.hash) || (t.seq == 1 ? !t.prev.empty() : !is_hex64(t.prev)))
      return bad("bad prune record");
    return t;
  } catch (const std::exception&) {
    return bad("cannot be parsed");
  }
}

}  // namespace medvault::backup
