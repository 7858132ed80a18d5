// The Merkle tree of the audit log, exactly as RFC 9162 section 2.1
// (Certificate Transparency v2, same tree as RFC 6962): SHA-256, leaf hash
// = SHA-256(0x00 || entry), interior node = SHA-256(0x01 || left || right),
// MTH(D[n]) split at the largest power of two smaller than n, MTH({}) =
// SHA-256(""). Inclusion proofs are PATH(m, D[n]) (2.1.3.1), consistency
// proofs PROOF(m, D[n]) (2.1.4.1); verification follows 2.1.3.2 and 2.1.4.2
// step by step. Byte layouts: docs/formats/audit-merkle.md.
//
// Pure functions over hashes: no storage, no keys. Leaf indexes are 0-based
// (entry with sequence number s is leaf s-1). All functions are thread-safe
// (each thread hashes with its own context); a Tree object is not.
//
// Cost: node hashing runs at 5-7 M hashes/s on this machine (OpenSSL's
// SHA-256, which uses the CPU's SHA extensions; libsodium's portable SHA-256
// is 2.5-3x slower and the 10 M-entry `audit verify` budget needs the
// difference). The root of 10 M leaves is one streaming pass: n-1 node
// hashes, O(log n) memory, 1.5-2.5 s in a Release build.
// Proof generation reads leaf hashes in batches and hashes every leaf of the
// subtrees it needs: O(n) time, O(log n + batch) memory.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace medvault::audit::merkle {

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

// SHA-256(0x00 || data): the leaf hash of one entry's canonical bytes.
Hash leaf_hash(std::span<const uint8_t> data);
Hash leaf_hash(std::string_view data);
// SHA-256(0x01 || left || right).
Hash node_hash(const Hash& left, const Hash& right);
// MTH({}) = SHA-256("") = e3b0c442...b855, the root of the empty tree.
Hash empty_root();

// Lower-case hex, and its strict inverse (exactly 64 hex digits).
std::string to_hex(const Hash& h);
Result<Hash> hash_from_hex(std::string_view hex);
// A hash held as 32 raw bytes in a std::string (as the store keeps it).
Result<Hash> hash_from_bytes(std::string_view bytes);
inline std::string to_bytes(const Hash& h) { return {h.begin(), h.end()}; }

// Incremental tree ("compact range" of [0, size)): the roots of the perfect
// subtrees that make up the tree, one per set bit of size, largest (leftmost)
// first; at most 64 hashes. append() costs amortised O(1) node hashes
// (at most log2(size) in the worst case), root() O(log n). The server keeps
// one per log so the current root never needs the whole log; frontier() and
// from_frontier() persist and restore it.
class Tree {
 public:
  Tree() = default;

  // Restores a tree from a size and its frontier (as frontier() returned).
  // Errc::invalid when the number of hashes is not popcount(size).
  static Result<Tree> from_frontier(uint64_t size, std::vector<Hash> frontier);

  // Appends the leaf hash of entry number size() (0-based).
  // REQUIRES: size() < 2^64 - 1.
  void append(const Hash& leaf);
  uint64_t size() const { return size_; }
  // MTH of the leaves appended so far; empty_root() for an empty tree.
  Hash root() const;
  const std::vector<Hash>& frontier() const { return frontier_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> frontier_;
};

// MTH over leaf hashes held in memory (a streaming pass through a Tree).
Hash root(std::span<const Hash> leaves);

// Source of leaf hashes for proofs over a stored log: fills `out` with the
// leaf hashes of leaves first .. first+out.size()-1 (0-based), or returns
// the storage error, which the proof functions pass on unchanged. Called with
// increasing `first`, in batches of at most 65536.
using LeafReader = std::function<Status(uint64_t first, std::span<Hash> out)>;

// MTH(D[0:size]) read through `read`: one streaming pass.
Result<Hash> root(uint64_t size, const LeafReader& read);

// PATH(index, D[0:size]), nodes ordered from the leaf's sibling upward, as
// RFC 9162 2.1.3.1. Errc::invalid unless index < size.
Result<std::vector<Hash>> inclusion_proof(uint64_t index, uint64_t size, const LeafReader& read);
Result<std::vector<Hash>> inclusion_proof(uint64_t index, std::span<const Hash> leaves);

// PROOF(old_size, D[0:new_size]) as RFC 9162 2.1.4.1. Empty when
// old_size == 0 or old_size == new_size (nothing to prove: the verifier
// compares roots). Errc::invalid if old_size > new_size.
Result<std::vector<Hash>> consistency_proof(uint64_t old_size, uint64_t new_size,
                                            const LeafReader& read);
Result<std::vector<Hash>> consistency_proof(uint64_t old_size, std::span<const Hash> leaves);

// RFC 9162 2.1.3.2: the root that `proof` gives for `leaf` at `index` in a
// tree of `size`. Errc::integrity if index >= size or the proof has the wrong
// length for (index, size).
Result<Hash> root_from_inclusion_proof(const Hash& leaf, uint64_t index, uint64_t size,
                                       std::span<const Hash> proof);
// OK if `proof` proves `leaf` is leaf `index` of the tree of `size` with
// `root`; otherwise Errc::integrity saying why.
Status verify_inclusion(const Hash& leaf, uint64_t index, uint64_t size,
                        std::span<const Hash> proof, const Hash& root);

// RFC 9162 2.1.4.2: OK if the tree (old_size, old_root) is a prefix of
// (new_size, new_root). Edge cases the RFC leaves to the caller:
// old_size == new_size requires an empty proof and equal roots; old_size == 0
// requires an empty proof and old_root == empty_root(); old_size > new_size
// fails. Otherwise Errc::integrity saying why.
Status verify_consistency(uint64_t old_size, const Hash& old_root, uint64_t new_size,
                          const Hash& new_root, std::span<const Hash> proof);

}  // namespace medvault::audit::merkle
