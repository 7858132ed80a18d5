// Checkpoints and proofs produced by medvault, checked by the independent
// Python verifier (test/audit_verifier/verify.py, written from RFC 9162 and
// the C2SP texts): valid ones must pass, tampered ones must fail.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/checkpoint.h"
#include "audit/merkle.h"

#ifndef MEDVAULT_SOURCE_DIR
#error "MEDVAULT_SOURCE_DIR must name the source tree (src/audit/CMakeLists.txt)"
#endif

namespace medvault::audit {
namespace {

namespace fs = std::filesystem;
using merkle::Hash;

std::string b64(const Hash& h) {
  char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(out, sizeof out, h.data(), h.size(), sodium_base64_VARIANT_ORIGINAL);
  return out;
}

std::string hex_list(const std::vector<Hash>& proof) {
  std::string out;
  for (const Hash& h : proof) {
    if (!out.empty()) out += ',';
    out += merkle::to_hex(h);
  }
  return out;
}

std::string entry(size_t i) {
  return R"({"seq":)" + std::to_string(i + 1) + R"(,"user":"u)" + std::to_string(i % 7) +
         R"(","action":"read"})";
}

class VerifierInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "medvault-verifier-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    for (size_t i = 0; i < 1000; ++i) leaves_.push_back(merkle::leaf_hash(entry(i)));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }

  // Runs verify.py with `args` (already shell-quoted where needed); returns
  // its exit status and keeps its output.
  int verify(const std::string& args) {
    const std::string script = std::string(MEDVAULT_SOURCE_DIR) + "/test/audit_verifier/verify.py";
    const std::string cmd = "/usr/bin/python3 '" + script + "' " + args + " >'" +
                            (dir_ / "out").string() + "' 2>'" + (dir_ / "err").string() + "'";
    const int status = std::system(cmd.c_str());
    std::ifstream out(dir_ / "out"), err(dir_ / "err");
    std::stringstream o, e;
    o << out.rdbuf();
    e << err.rdbuf();
    stdout_ = o.str();
    stderr_ = e.str();
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  Hash root_of(size_t n) const { return merkle::root(std::span(leaves_).first(n)); }

  std::string inclusion_args(const Hash& leaf, uint64_t index, uint64_t size, const Hash& root,
                             const std::vector<Hash>& proof) {
    return "inclusion --leaf-hex " + merkle::to_hex(leaf) + " --index " + std::to_string(index) +
           " --size " + std::to_string(size) + " --root-b64 '" + b64(root) + "' --proof-hex '" +
           hex_list(proof) + "'";
  }

  std::string consistency_args(uint64_t m, const Hash& r1, uint64_t n, const Hash& r2,
                               const std::vector<Hash>& proof) {
    return "consistency --old-size " + std::to_string(m) + " --old-root-b64 '" + b64(r1) +
           "' --new-size " + std::to_string(n) + " --new-root-b64 '" + b64(r2) +
           "' --proof-hex '" + hex_list(proof) + "'";
  }

  fs::path dir_;
  std::vector<Hash> leaves_;
  std::string stdout_, stderr_;
};

TEST_F(VerifierInterop, SelfTestOnPublishedVectors) {
  ASSERT_EQ(verify("selftest"), 0) << stderr_;
}

TEST_F(VerifierInterop, Checkpoint) {
  const std::vector<uint8_t> seed(32, 0x42);
  const std::string origin = "medvault.local/interop-vault";
  auto key = verifier_key_from_seed(origin, seed);
  ASSERT_TRUE(key.ok());
  const std::string vkey = write("vkey", format_verifier_key(*key) + "\n");
  const Hash root = root_of(1000);
  auto note = sign_checkpoint(origin, 1000, root, seed, origin);
  ASSERT_TRUE(note.ok());

  ASSERT_EQ(verify("checkpoint '" + write("note", *note) + "' '" + vkey + "'"), 0) << stderr_;
  EXPECT_EQ(stdout_, "origin " + origin + "\nsize 1000\nroot " + b64(root) + "\n");
  // The vkey may also be given as text.
  EXPECT_EQ(verify("checkpoint '" + (dir_ / "note").string() + "' '" + format_verifier_key(*key) +
                   "'"),
            0)
      << stderr_;

  // With extension lines and a witness cosignature.
  const std::vector<std::string> ext = {"medvault-extension one"};
  auto with_ext = sign_checkpoint(origin, 1000, root, seed, origin, ext);
  ASSERT_TRUE(with_ext.ok());
  auto witness = sign_note(with_ext->substr(0, with_ext->rfind("\n\n") + 1),
                           std::vector<uint8_t>(32, 1), "witness.example/w");
  ASSERT_TRUE(witness.ok());
  const std::string cosigned = *with_ext + witness->substr(witness->rfind("\n\n") + 2);
  EXPECT_EQ(verify("checkpoint '" + write("cosigned", cosigned) + "' '" + vkey + "'"), 0)
      << stderr_;

  // Tampering: a larger size, a flipped root, a damaged signature, another key.
  std::string bigger = *note;
  bigger.replace(bigger.find("\n1000\n"), 6, "\n1001\n");
  EXPECT_EQ(verify("checkpoint '" + write("bigger", bigger) + "' '" + vkey + "'"), 1);
  EXPECT_NE(stderr_.find("does not verify"), std::string::npos) << stderr_;
  EXPECT_EQ(std::count(stderr_.begin(), stderr_.end(), '\n'), 1) << stderr_;

  Hash other_root = root;
  other_root[0] ^= 1;
  std::string swapped = *note;
  swapped.replace(swapped.find(b64(root)), b64(root).size(), b64(other_root));
  EXPECT_EQ(verify("checkpoint '" + write("swapped", swapped) + "' '" + vkey + "'"), 1);

  std::string badsig = *note;
  const size_t at = badsig.size() - 8;
  badsig[at] = badsig[at] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verify("checkpoint '" + write("badsig", badsig) + "' '" + vkey + "'"), 1);

  auto other = verifier_key_from_seed(origin, std::vector<uint8_t>(32, 0x43));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(verify("checkpoint '" + (dir_ / "note").string() + "' '" +
                   write("other", format_verifier_key(*other)) + "'"),
            1);
  EXPECT_NE(stderr_.find("no signature by"), std::string::npos) << stderr_;
}

TEST_F(VerifierInterop, InclusionProofs) {
  const Hash root = root_of(1000);
  for (uint64_t index : {0u, 123u, 512u, 999u}) {
    auto proof = merkle::inclusion_proof(index, leaves_);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(verify(inclusion_args(leaves_[index], index, 1000, root, *proof)), 0)
        << index << ": " << stderr_;
  }
  // The entry bytes instead of the leaf hash: the verifier hashes them itself.
  auto proof = merkle::inclusion_proof(123, leaves_);
  ASSERT_TRUE(proof.ok());
  std::string data_hex;
  for (unsigned char c : entry(123)) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", c);
    data_hex += b;
  }
  EXPECT_EQ(verify("inclusion --leaf-data-hex " + data_hex + " --index 123 --size 1000" +
                   " --root-b64 '" + b64(root) + "' --proof-hex '" + hex_list(*proof) + "'"),
            0)
      << stderr_;

  // A smaller tree, proved against its own root.
  auto small = merkle::inclusion_proof(5, std::span(leaves_).first(7));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(verify(inclusion_args(leaves_[5], 5, 7, root_of(7), *small)), 0) << stderr_;

  // Tampering: proof hash, leaf, index, root, a missing hash.
  auto bad = *proof;
  bad[3][17] ^= 0x20;
  EXPECT_EQ(verify(inclusion_args(leaves_[123], 123, 1000, root, bad)), 1);
  EXPECT_EQ(verify(inclusion_args(leaves_[124], 123, 1000, root, *proof)), 1);
  EXPECT_EQ(verify(inclusion_args(leaves_[123], 122, 1000, root, *proof)), 1);
  EXPECT_EQ(verify(inclusion_args(leaves_[123], 123, 1000, root_of(999), *proof)), 1);
  bad = *proof;
  bad.pop_back();
  EXPECT_EQ(verify(inclusion_args(leaves_[123], 123, 1000, root, bad)), 1);
  EXPECT_NE(stderr_.find("shorter"), std::string::npos) << stderr_;
}

TEST_F(VerifierInterop, ConsistencyProofs) {
  const Hash root = root_of(1000);
  for (uint64_t m : {1u, 512u, 600u, 999u, 1000u}) {
    auto proof = merkle::consistency_proof(m, leaves_);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(verify(consistency_args(m, root_of(m), 1000, root, *proof)), 0)
        << m << ": " << stderr_;
  }
  auto proof = merkle::consistency_proof(600, leaves_);
  ASSERT_TRUE(proof.ok());
  // Tampering: roots swapped, a proof hash flipped, a rolled-back old root
  // (the log rewrote an entry before 600), wrong old size.
  EXPECT_EQ(verify(consistency_args(600, root, 1000, root_of(600), *proof)), 1);
  auto bad = *proof;
  bad[0][0] ^= 1;
  EXPECT_EQ(verify(consistency_args(600, root_of(600), 1000, root, bad)), 1);
  auto rewritten = leaves_;
  rewritten[17] = merkle::leaf_hash("rewritten entry");
  EXPECT_EQ(verify(consistency_args(600, merkle::root(std::span(rewritten).first(600)), 1000,
                                    root, *proof)),
            1);
  EXPECT_EQ(verify(consistency_args(601, root_of(600), 1000, root, *proof)), 1);
}

}  // namespace
}  // namespace medvault::audit
