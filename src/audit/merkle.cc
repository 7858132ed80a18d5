#include "audit/merkle.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <utility>

namespace medvault::audit::merkle {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;
constexpr size_t kReadBatch = 65536;

// SHA-256 through OpenSSL's EVP interface with a fetched digest and a reused
// context: the two things that make it fast for 65-byte inputs. If OpenSSL
// cannot hash (no default provider, allocation failure) the same function is
// computed with libsodium, so a hash is always returned.
const EVP_MD* sha256_md() {
  // Fetched once for the process and never freed: it lives as long as any
  // thread may hash.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {}
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Hash digest(std::initializer_list<std::span<const uint8_t>> parts) {
    Hash out;
    const EVP_MD* md = sha256_md();
    if (md != nullptr && ctx_ != nullptr && EVP_DigestInit_ex2(ctx_, md, nullptr) == 1) {
      bool ok = true;
      for (auto p : parts) ok = ok && EVP_DigestUpdate(ctx_, p.data(), p.size()) == 1;
      unsigned int len = 0;
      if (ok && EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1 && len == kHashSize) return out;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (auto p : parts) crypto_hash_sha256_update(&st, p.data(), p.size());
    crypto_hash_sha256_final(&st, out.data());
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

Sha256& hasher() {
  thread_local Sha256 h;
  return h;
}

// Largest power of two strictly smaller than n. REQUIRES: n >= 2.
uint64_t split_point(uint64_t n) { return std::bit_floor(n - 1); }

// MTH(D[begin:end]) read through `read`, streaming. REQUIRES: begin < end.
Result<Hash> range_root(uint64_t begin, uint64_t end, const LeafReader& read,
                        std::vector<Hash>& buf) {
  Tree t;
  for (uint64_t at = begin; at < end;) {
    const size_t count = static_cast<size_t>(std::min<uint64_t>(end - at, kReadBatch));
    buf.resize(count);
    MV_TRY(read(at, std::span<Hash>(buf.data(), count)));
    for (const Hash& h : buf) t.append(h);
    at += count;
  }
  return t.root();
}

// Hashes of the disjoint leaf ranges, listed in `ranges` top-down as the
// recursive definitions find them; returned bottom-up (the order of PATH and
// PROOF). Ranges are read in increasing leaf order.
Result<std::vector<Hash>> hash_ranges(std::vector<std::pair<uint64_t, uint64_t>> ranges,
                                      const LeafReader& read) {
  std::vector<size_t> order(ranges.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return ranges[a].first < ranges[b].first; });
  std::vector<Hash> top_down(ranges.size());
  std::vector<Hash> buf;
  for (size_t i : order) {
    MV_ASSIGN(top_down[i], range_root(ranges[i].first, ranges[i].second, read, buf));
  }
  return std::vector<Hash>(top_down.rbegin(), top_down.rend());
}

LeafReader span_reader(std::span<const Hash> leaves) {
  return [leaves](uint64_t first, std::span<Hash> out) -> Status {
    if (first > leaves.size() || out.size() > leaves.size() - first)
      return make_error(Errc::internal, "merkle: leaf read past the end");
    std::copy_n(leaves.begin() + static_cast<ptrdiff_t>(first), out.size(), out.begin());
    return ok_status();
  };
}

// Number of hashes in PATH(index, D[size]): the iterations of RFC 9162
// 2.1.3.2 until sn reaches 0. REQUIRES: index < size.
size_t inclusion_path_length(uint64_t index, uint64_t size) {
  uint64_t fn = index, sn = size - 1;
  size_t n = 0;
  while (sn != 0) {
    if ((fn & 1) != 0 || fn == sn) {
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    }
    fn >>= 1;
    sn >>= 1;
    ++n;
  }
  return n;
}

Error proof_error(std::string message) { return make_error(Errc::integrity, std::move(message)); }

}  // namespace

Hash leaf_hash(std::span<const uint8_t> data) {
  const uint8_t prefix = kLeafPrefix;
  return hasher().digest({std::span<const uint8_t>(&prefix, 1), data});
}

Hash leaf_hash(std::string_view data) {
  return leaf_hash(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()),
                                            data.size()));
}

Hash node_hash(const Hash& left, const Hash& right) {
  uint8_t buf[1 + 2 * kHashSize];
  buf[0] = kNodePrefix;
  std::memcpy(buf + 1, left.data(), kHashSize);
  std::memcpy(buf + 1 + kHashSize, right.data(), kHashSize);
  return hasher().digest({std::span<const uint8_t>(buf, sizeof buf)});
}

Hash empty_root() { return hasher().digest({}); }

std::string to_hex(const Hash& h) {
  char buf[2 * kHashSize + 1];
  sodium_bin2hex(buf, sizeof buf, h.data(), h.size());
  return std::string(buf, 2 * kHashSize);
}

Result<Hash> hash_from_hex(std::string_view hex) {
  Hash h;
  size_t len = 0;
  const char* end = nullptr;
  if (hex.size() != 2 * kHashSize ||
      sodium_hex2bin(h.data(), h.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      len != kHashSize || end != hex.data() + hex.size())
    return make_error(Errc::invalid, "a hash must be 64 hexadecimal digits");
  return h;
}

Result<Hash> hash_from_bytes(std::string_view bytes) {
  if (bytes.size() != kHashSize) return make_error(Errc::invalid, "a hash must be 32 bytes");
  Hash h;
  std::memcpy(h.data(), bytes.data(), kHashSize);
  return h;
}

Result<Tree> Tree::from_frontier(uint64_t size, std::vector<Hash> frontier) {
  if (frontier.size() != static_cast<size_t>(std::popcount(size)))
    return make_error(Errc::invalid, "merkle frontier of a tree of " + std::to_string(size) +
                                         " leaves must have " +
                                         std::to_string(std::popcount(size)) + " hashes, not " +
                                         std::to_string(frontier.size()));
  Tree t;
  t.size_ = size;
  t.frontier_ = std::move(frontier);
  return t;
}

void Tree::append(const Hash& leaf) {
  Hash h = leaf;
  // Every trailing 1-bit of size_ is a perfect subtree of the same height as
  // the one being carried: merge them, as in binary addition.
  for (uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    h = node_hash(frontier_.back(), h);
    frontier_.pop_back();
  }
  frontier_.push_back(h);
  ++size_;
}

Hash Tree::root() const {
  if (frontier_.empty()) return empty_root();
  // MTH splits at the largest power of two, so the root is the right fold of
  // the perfect subtrees.
  Hash r = frontier_.back();
  for (size_t i = frontier_.size() - 1; i-- > 0;) r = node_hash(frontier_[i], r);
  return r;
}

Hash root(std::span<const Hash> leaves) {
  Tree t;
  for (const Hash& h : leaves) t.append(h);
  return t.root();
}

Result<Hash> root(uint64_t size, const LeafReader& read) {
  if (size == 0) return empty_root();
  std::vector<Hash> buf;
  return range_root(0, size, read, buf);
}

Result<std::vector<Hash>> inclusion_proof(uint64_t index, uint64_t size, const LeafReader& read) {
  if (index >= size)
    return make_error(Errc::invalid, "no leaf " + std::to_string(index) + " in a tree of " +
                                         std::to_string(size) + " leaves");
  // PATH(m, D[lo:hi]): the sibling subtree at every level, top-down.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  uint64_t lo = 0, hi = size;
  while (hi - lo > 1) {
    const uint64_t k = split_point(hi - lo);
    if (index - lo < k) {
      ranges.emplace_back(lo + k, hi);
      hi = lo + k;
    } else {
      ranges.emplace_back(lo, lo + k);
      lo += k;
    }
  }
  return hash_ranges(std::move(ranges), read);
}

Result<std::vector<Hash>> inclusion_proof(uint64_t index, std::span<const Hash> leaves) {
  return inclusion_proof(index, leaves.size(), span_reader(leaves));
}

Result<std::vector<Hash>> consistency_proof(uint64_t old_size, uint64_t new_size,
                                            const LeafReader& read) {
  if (old_size > new_size)
    return make_error(Errc::invalid, "tree size " + std::to_string(old_size) +
                                         " is larger than " + std::to_string(new_size));
  if (old_size == 0 || old_size == new_size) return std::vector<Hash>{};
  // SUBPROOF(m, D[lo:hi], b) unrolled; m counts leaves from lo.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  uint64_t lo = 0, hi = new_size, m = old_size;
  bool b = true;
  for (;;) {
    const uint64_t n = hi - lo;
    if (m == n) {
      if (!b) ranges.emplace_back(lo, hi);
      break;
    }
    const uint64_t k = split_point(n);
    if (m <= k) {
      ranges.emplace_back(lo + k, hi);
      hi = lo + k;
    } else {
      ranges.emplace_back(lo, lo + k);
      lo += k;
      m -= k;
      b = false;
    }
  }
  return hash_ranges(std::move(ranges), read);
}

Result<std::vector<Hash>> consistency_proof(uint64_t old_size, std::span<const Hash> leaves) {
  return consistency_proof(old_size, leaves.size(), span_reader(leaves));
}

Result<Hash> root_from_inclusion_proof(const Hash& leaf, uint64_t index, uint64_t size,
                                       std::span<const Hash> proof) {
  if (index >= size)
    return proof_error("inclusion proof: leaf index " + std::to_string(index) +
                       " is not below the tree size " + std::to_string(size));
  const size_t want = inclusion_path_length(index, size);
  if (proof.size() != want)
    return proof_error("inclusion proof for leaf " + std::to_string(index) + " of a tree of " +
                       std::to_string(size) + " has " + std::to_string(proof.size()) +
                       " hashes, expected " + std::to_string(want));
  // RFC 9162 2.1.3.2, steps 2 to 5 (the length check above makes the
  // "sn is 0" failures of steps 4a and 5 unreachable, but they stay).
  uint64_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return proof_error("inclusion proof is longer than the path");
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return proof_error("inclusion proof is shorter than the path");
  return r;
}

Status verify_inclusion(const Hash& leaf, uint64_t index, uint64_t size,
                        std::span<const Hash> proof, const Hash& root) {
  MV_ASSIGN(Hash r, root_from_inclusion_proof(leaf, index, size, proof));
  if (r != root)
    return proof_error("inclusion proof for leaf " + std::to_string(index) + " of a tree of " +
                       std::to_string(size) + " does not lead to the expected root");
  return ok_status();
}

Status verify_consistency(uint64_t old_size, const Hash& old_root, uint64_t new_size,
                          const Hash& new_root, std::span<const Hash> proof) {
  const std::string sizes = std::to_string(old_size) + " -> " + std::to_string(new_size);
  if (old_size > new_size)
    return proof_error("consistency " + sizes + ": the old tree is larger than the new one");
  if (old_size == new_size) {
    if (!proof.empty()) return proof_error("consistency " + sizes + ": proof must be empty");
    if (old_root != new_root)
      return proof_error("consistency " + sizes + ": same size but different roots");
    return ok_status();
  }
  if (old_size == 0) {
    if (!proof.empty()) return proof_error("consistency " + sizes + ": proof must be empty");
    if (old_root != empty_root())
      return proof_error("consistency " + sizes + ": old root is not the empty-tree hash");
    return ok_status();
  }
  // RFC 9162 2.1.4.2.
  // 1. An empty path fails.
  if (proof.empty()) return proof_error("consistency " + sizes + ": empty proof");
  if (proof.size() > 2 * 64)
    return proof_error("consistency " + sizes + ": proof is too long");
  // 2. If first is an exact power of 2, first_hash is the first node.
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  // 3-4.
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  // 5.
  Hash fr = path[0], sr = path[0];
  // 6.
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return proof_error("consistency " + sizes + ": proof is too long");
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // 7.
  if (sn != 0) return proof_error("consistency " + sizes + ": proof is too short");
  if (fr != old_root)
    return proof_error("consistency " + sizes + ": proof does not lead to the old root");
  if (sr != new_root)
    return proof_error("consistency " + sizes + ": proof does not lead to the new root");
  return ok_status();
}

}  // namespace medvault::audit::merkle
