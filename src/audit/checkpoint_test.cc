#include "audit/checkpoint.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <random>

namespace medvault::audit {
namespace {

std::vector<uint8_t> unbase64(std::string_view b64) {
  std::vector<uint8_t> out(b64.size());
  size_t len = 0;
  EXPECT_EQ(sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr, &len,
                              nullptr, sodium_base64_VARIANT_ORIGINAL),
            0);
  out.resize(len);
  return out;
}

std::string b64(std::span<const uint8_t> bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bin.data(), bin.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

std::vector<uint8_t> seed_of(uint8_t fill) { return std::vector<uint8_t>(32, fill); }

// ---------------------------------------------------------------------------
// Known answers from golang.org/x/mod/sumdb/note (note_test.go: TestSign,
// TestOpen, TestNewVerifier), the reference implementation of signed notes.
// Ed25519 is deterministic, so the signature must match byte for byte.

constexpr std::string_view kPeterSkeyKey = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr std::string_view kPeterVkey =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr std::string_view kEnochVkey =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr std::string_view kText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr std::string_view kPeterSig =
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
constexpr std::string_view kEnochSig =
    "\xE2\x80\x94 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

std::vector<uint8_t> peter_seed() {
  // The private key encoding is 0x01 (Ed25519) || 32-byte seed.
  auto raw = unbase64(kPeterSkeyKey);
  EXPECT_EQ(raw.size(), 33u);
  EXPECT_EQ(raw[0], 0x01);
  return std::vector<uint8_t>(raw.begin() + 1, raw.end());
}

TEST(SignedNoteKat, KeyIdAndVerifierKeyFromSeed) {
  auto key = verifier_key_from_seed("PeterNeumann", peter_seed());
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->id, 0xc74f20a3u);
  EXPECT_EQ(key_id("PeterNeumann", key->public_key), 0xc74f20a3u);
  EXPECT_EQ(format_verifier_key(*key), kPeterVkey);
  auto parsed = parse_verifier_key(kPeterVkey);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->name, "PeterNeumann");
  EXPECT_EQ(parsed->id, 0xc74f20a3u);
  EXPECT_EQ(parsed->public_key, key->public_key);
  auto enoch = parse_verifier_key(kEnochVkey);
  ASSERT_TRUE(enoch.ok()) << enoch.error().message;
  EXPECT_EQ(enoch->id, 0xaf0cfe78u);
}

TEST(SignedNoteKat, SignatureIsByteExact) {
  auto note = sign_note(kText, peter_seed(), "PeterNeumann");
  ASSERT_TRUE(note.ok()) << note.error().message;
  EXPECT_EQ(*note, std::string(kText) + "\n" + std::string(kPeterSig));
}

TEST(SignedNoteKat, OpenWithOneOrBothKeys) {
  const std::string note = std::string(kText) + "\n" + std::string(kPeterSig) +
                           std::string(kEnochSig);
  auto peter = parse_verifier_key(kPeterVkey);
  auto enoch = parse_verifier_key(kEnochVkey);
  ASSERT_TRUE(peter.ok() && enoch.ok());
  auto a = verify_note(note, *peter);  // the Enoch signature is ignored
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(*a, kText);
  auto b = verify_note(note, *enoch);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(*b, kText);
  auto other = verifier_key_from_seed("PeterNeumann", seed_of(9));
  ASSERT_TRUE(other.ok());
  auto c = verify_note(note, *other);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::integrity);
  EXPECT_NE(c.error().message.find("no signature by key PeterNeumann+"), std::string::npos);
}

TEST(SignedNoteKat, MalformedNotesFromTheReferenceTests) {
  auto peter = parse_verifier_key(kPeterVkey);
  ASSERT_TRUE(peter.ok());
  const std::string text(kText), sig(kPeterSig);
  const std::vector<std::string> bad = {
      text,
      text + "\n",
      text + "\n" + sig.substr(0, sig.size() - 1),
      "\x01" + text + "\n" + sig,
      "\xff" + text + "\n" + sig,
      text + "\n" + "\xE2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
      text + "\n" + "\xE2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
      text + "\n" + sig + "Unexpected line.\n",
      // Invalid signature by the known key (bytes inserted in the middle).
      text + "\n" + sig.substr(0, 60) + "ABCD" + sig.substr(60),
      // Hyphen instead of em dash, CRLF line ends, no space after the dash.
      text + "\n- PeterNeumann " + sig.substr(sig.find(' ', 4) + 1),
      text + "\n" + sig.substr(0, sig.size() - 1) + "\r\n",
      text + "\n\xE2\x80\x94PeterNeumann " + sig.substr(sig.find(' ', 4) + 1),
      // A Unicode space (U+00A0) in the key name.
      text + "\n\xE2\x80\x94 Peter\xC2\xA0Neumann " + sig.substr(sig.find(' ', 4) + 1),
      // Overlong UTF-8 encoding of '/', and a UTF-16 surrogate.
      "\xC0\xAF" + text + "\n" + sig,
      "\xED\xA0\x80" + text + "\n" + sig,
  };
  for (const auto& msg : bad) {
    auto r = verify_note(msg, *peter);
    ASSERT_FALSE(r.ok()) << msg;
    EXPECT_EQ(r.error().code, Errc::integrity);
  }
  // 101 signature lines is too many; 16 must be accepted.
  EXPECT_FALSE(verify_note(text + "\n" + [&] {
                 std::string s;
                 for (int i = 0; i < 101; ++i) s += sig;
                 return s;
               }(),
                           *peter)
                   .ok());
  std::string sixteen;
  for (int i = 0; i < 16; ++i) sixteen += sig;
  EXPECT_TRUE(verify_note(text + "\n" + sixteen, *peter).ok());
}

TEST(SignedNoteKat, VerifierKeyManglingsAreRejected) {
  // As TestNewVerifier: every proper substring and every single-byte change.
  std::string b(kPeterVkey);
  for (size_t i = 0; i <= b.size(); ++i)
    for (size_t j = i + 1; j <= b.size(); ++j)
      if (i != 0 || j != b.size()) {
        EXPECT_FALSE(parse_verifier_key(b.substr(i, j - i)).ok()) << b.substr(i, j - i);
      }
  for (size_t i = 0; i < b.size(); ++i) {
    ++b[i];
    EXPECT_FALSE(parse_verifier_key(b).ok()) << b;
    --b[i];
  }
  // Wrong key length and unknown algorithm, each with an adjusted key id.
  EXPECT_FALSE(parse_verifier_key(
                   "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
                   .ok());
  EXPECT_FALSE(
      parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
          .ok());
  // The published form may come from a file with a final newline.
  EXPECT_TRUE(parse_verifier_key(std::string(kPeterVkey) + "\n").ok());
  EXPECT_EQ(parse_verifier_key("").error().code, Errc::invalid);
}

// ---------------------------------------------------------------------------
// Checkpoints.

const std::string kOrigin = "medvault.local/4f1c2a";

merkle::Hash some_root() { return merkle::leaf_hash("some root"); }

TEST(Checkpoint, SignVerifyRoundTrip) {
  const auto seed = seed_of(7);
  auto note = sign_checkpoint(kOrigin, 10000, some_root(), seed, kOrigin);
  ASSERT_TRUE(note.ok()) << note.error().message;
  // The exact layout: three lines, blank line, one signature line.
  const std::string root_b64 = b64(some_root());
  const std::string prefix = kOrigin + "\n10000\n" + root_b64 + "\n\n\xE2\x80\x94 " + kOrigin + " ";
  ASSERT_EQ(note->substr(0, prefix.size()), prefix);
  const auto sig = unbase64(std::string_view(*note).substr(prefix.size(),
                                                           note->size() - prefix.size() - 1));
  ASSERT_EQ(sig.size(), 68u);
  EXPECT_EQ(note->back(), '\n');

  auto key = verifier_key_from_seed(kOrigin, seed);
  ASSERT_TRUE(key.ok());
  const uint32_t id = (uint32_t{sig[0]} << 24) | (uint32_t{sig[1]} << 16) |
                      (uint32_t{sig[2]} << 8) | sig[3];
  EXPECT_EQ(id, key->id);
  // The signature is Ed25519 over the note text, blank line excluded.
  const std::string text = kOrigin + "\n10000\n" + root_b64 + "\n";
  EXPECT_EQ(crypto_sign_verify_detached(sig.data() + 4,
                                        reinterpret_cast<const uint8_t*>(text.data()),
                                        text.size(), key->public_key.data()),
            0);

  const std::string vkey = format_verifier_key(*key);
  auto cp = verify_checkpoint(*note, vkey);
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  EXPECT_EQ(cp->origin, kOrigin);
  EXPECT_EQ(cp->size, 10000u);
  EXPECT_EQ(cp->root, some_root());
  EXPECT_TRUE(cp->extensions.empty());
  EXPECT_TRUE(verify_checkpoint(*note, vkey, kOrigin).ok());
  auto wrong_origin = verify_checkpoint(*note, vkey, "medvault.local/other");
  ASSERT_FALSE(wrong_origin.ok());
  EXPECT_EQ(wrong_origin.error().code, Errc::integrity);
}

TEST(Checkpoint, FrozenFormat) {
  // The example of docs/formats/audit-merkle.md (and fuzz/corpus/checkpoint):
  // any change to these bytes breaks every published checkpoint and witness.
  const std::string name = "medvault.local/fuzz";
  const std::vector<uint8_t> seed(32, 0x4d);
  auto note = sign_checkpoint(name, 10000, merkle::leaf_hash("fuzz corpus root"), seed, name);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(*note,
            "medvault.local/fuzz\n10000\nZ/SrnzMXPU371GiiTUIl6/JYqld6G4ssz+I3wP4WE78=\n\n"
            "\xE2\x80\x94 medvault.local/fuzz "
            "Hy1hETpqDkWDbgUkZE8ynzeRBrJfck5I03EWLmS/ZtE0BqMoWXj/yEGnqmXruuAVFoJrR7CgbfpE2KECSYHxOKPXYQg=\n");
  auto key = verifier_key_from_seed(name, seed);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(format_verifier_key(*key),
            "medvault.local/fuzz+1f2d6111+AWKmEbRy2JsOX8k8BpufcAtMVS1VvA6HtWAI7xe2sr6+");
}

TEST(Checkpoint, EmptyAndLargestTrees) {
  const auto seed = seed_of(1);
  auto key = verifier_key_from_seed(kOrigin, seed);
  ASSERT_TRUE(key.ok());
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, UINT64_MAX}) {
    auto note = sign_checkpoint(kOrigin, size, merkle::empty_root(), seed, kOrigin);
    ASSERT_TRUE(note.ok());
    auto cp = verify_checkpoint(*note, *key);
    ASSERT_TRUE(cp.ok()) << cp.error().message;
    EXPECT_EQ(cp->size, size);
  }
}

TEST(Checkpoint, WrongKeyIsRefused) {
  auto note = sign_checkpoint(kOrigin, 5, some_root(), seed_of(7), kOrigin);
  ASSERT_TRUE(note.ok());
  // Another key under the same name: different key id, so no signature by it.
  auto other = verifier_key_from_seed(kOrigin, seed_of(8));
  ASSERT_TRUE(other.ok());
  auto r = verify_checkpoint(*note, format_verifier_key(*other));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::integrity);
  EXPECT_NE(r.error().message.find("no signature by key"), std::string::npos);
  // Same key under another name: ignored as well.
  auto renamed = verifier_key_from_seed("medvault.local/other", seed_of(7));
  ASSERT_TRUE(renamed.ok());
  EXPECT_FALSE(verify_checkpoint(*note, *renamed).ok());
  // A key whose name and id match but whose public key differs (a forged
  // vkey with a colliding id): the signature must then fail to verify.
  VerifierKey forged = *other;
  auto real = verifier_key_from_seed(kOrigin, seed_of(7));
  forged.id = real->id;
  auto f = verify_checkpoint(*note, forged);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("does not verify"), std::string::npos);
  // A malformed vkey is a configuration error, not a verification failure.
  auto bad = verify_checkpoint(*note, "not a key");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid);
}

TEST(Checkpoint, ModifiedBodyOrSignatureIsRefused) {
  const auto seed = seed_of(7);
  auto note = sign_checkpoint(kOrigin, 10000, some_root(), seed, kOrigin);
  ASSERT_TRUE(note.ok());
  auto key = verifier_key_from_seed(kOrigin, seed);
  ASSERT_TRUE(key.ok());

  std::string body = *note;
  body.replace(body.find("10000"), 5, "10001");  // a larger tree than was signed
  auto r1 = verify_checkpoint(body, *key);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.error().message.find("does not verify"), std::string::npos);

  std::string sig = *note;
  const size_t at = sig.size() - 10;
  sig[at] = sig[at] == 'A' ? 'B' : 'A';
  auto r2 = verify_checkpoint(sig, *key);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, Errc::integrity);

  // The key id in the signature changed (re-encoded): not our key's line.
  const size_t b64_at = note->rfind(' ') + 1;
  auto raw = unbase64(std::string_view(*note).substr(b64_at, note->size() - b64_at - 1));
  raw[0] ^= 0xff;
  const std::string wrong_id = note->substr(0, b64_at) + b64(raw) + "\n";
  auto r3 = verify_checkpoint(wrong_id, *key);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().message.find("no signature by key"), std::string::npos);

  // Appending a line to the body, or dropping the signature.
  EXPECT_FALSE(verify_checkpoint(kOrigin + "\n10000\n" + b64(some_root()) + "\nextra\n\n" +
                                     note->substr(note->rfind("\n\n") + 2),
                                 *key)
                   .ok());
  EXPECT_FALSE(verify_checkpoint(note->substr(0, note->rfind("\n\n") + 2), *key).ok());
}

TEST(Checkpoint, ExtensionLinesAndCosignatures) {
  const auto seed = seed_of(7);
  const std::vector<std::string> ext = {"timestamp 1718000000", "\xC3\xA9t\xC3\xA9 ext"};
  auto note = sign_checkpoint(kOrigin, 42, some_root(), seed, kOrigin, ext);
  ASSERT_TRUE(note.ok()) << note.error().message;
  EXPECT_NE(note->find("\ntimestamp 1718000000\n"), std::string::npos);
  auto key = verifier_key_from_seed(kOrigin, seed);
  auto cp = verify_checkpoint(*note, *key);
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  EXPECT_EQ(cp->extensions, ext);

  // A witness cosignature (another key) after ours is ignored by our check;
  // the witness's own check finds it.
  auto witness_note = sign_note(note->substr(0, note->rfind("\n\n") + 1), seed_of(3),
                                "witness.example/w1");
  ASSERT_TRUE(witness_note.ok());
  const std::string cosigned = *note + witness_note->substr(witness_note->rfind("\n\n") + 2);
  EXPECT_TRUE(verify_checkpoint(cosigned, *key).ok());
  auto witness = verifier_key_from_seed("witness.example/w1", seed_of(3));
  auto wcp = verify_checkpoint(cosigned, *witness);
  ASSERT_TRUE(wcp.ok()) << wcp.error().message;
  EXPECT_EQ(*wcp, *cp);

  // Extension lines that a checkpoint cannot carry.
  for (const std::string& e : {std::string(), std::string("a\nb"), std::string("tab\there"),
                               std::string("\xff")}) {
    const std::vector<std::string> one = {e};
    auto r = sign_checkpoint(kOrigin, 1, some_root(), seed, kOrigin, one);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid);
  }
}

TEST(Checkpoint, SigningRefusesBadInput) {
  const auto seed = seed_of(7);
  for (std::string_view origin : {"", "has space", "a+b", "line\nbreak", "ctl\x01"}) {
    auto r = sign_checkpoint(origin, 1, some_root(), seed, kOrigin);
    ASSERT_FALSE(r.ok()) << origin;
    EXPECT_EQ(r.error().code, Errc::invalid);
  }
  EXPECT_FALSE(sign_checkpoint(kOrigin, 1, some_root(), seed, "bad name").ok());
  const std::vector<uint8_t> short_seed(31, 7);
  EXPECT_FALSE(sign_checkpoint(kOrigin, 1, some_root(), short_seed, kOrigin).ok());
  EXPECT_FALSE(verifier_key_from_seed(kOrigin, short_seed).ok());
  EXPECT_FALSE(sign_note("no final newline", seed, kOrigin).ok());
  EXPECT_FALSE(sign_note("", seed, kOrigin).ok());
  EXPECT_FALSE(sign_note("cr\r\n", seed, kOrigin).ok());
}

TEST(Checkpoint, StrictBodyParsing) {
  const std::string r = b64(some_root());
  auto ok = parse_checkpoint_text(kOrigin + "\n18446744073709551615\n" + r + "\n");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->size, UINT64_MAX);
  ASSERT_TRUE(parse_checkpoint_text(kOrigin + "\n0\n" + r + "\n").ok());

  std::string non_canonical = r;  // 32 bytes: 43 chars + '='; last char has 2 unused bits
  non_canonical[42] = static_cast<char>(non_canonical[42] ^ 1);
  const std::vector<std::string> bad = {
      "",
      kOrigin + "\n",
      kOrigin + "\n5\n",
      kOrigin + "\n5\n" + r,                           // no final newline
      kOrigin + "\n05\n" + r + "\n",                   // leading zero
      kOrigin + "\n+5\n" + r + "\n",
      kOrigin + "\n-5\n" + r + "\n",
      kOrigin + "\n 5\n" + r + "\n",
      kOrigin + "\n5 \n" + r + "\n",
      kOrigin + "\n0x5\n" + r + "\n",
      kOrigin + "\n\n" + r + "\n",                     // empty size line
      kOrigin + "\n18446744073709551616\n" + r + "\n",  // 2^64
      kOrigin + "\n99999999999999999999999\n" + r + "\n",
      "\n5\n" + r + "\n",                              // empty origin
      kOrigin + "\n5\n" + r.substr(0, 40) + "\n",      // short root
      kOrigin + "\n5\n" + r.substr(0, 43) + "\n",      // missing padding
      kOrigin + "\n5\n" + non_canonical + "\n",        // non-zero unused bits
      kOrigin + "\n5\n" + b64(std::vector<uint8_t>(31, 1)) + "\n",
      kOrigin + "\n5\n" + b64(std::vector<uint8_t>(33, 1)) + "\n",
      kOrigin + "\n5\n" + r + "\n\n",                  // empty extension line
      kOrigin + "\n5\n" + r + "\r\n",
      kOrigin + "\n5\n" + r + "\nbad\x7f\xff\n",
  };
  for (const auto& text : bad) {
    auto p = parse_checkpoint_text(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.error().code, Errc::integrity);
  }
}

TEST(Checkpoint, HostileMutationsNeverCrashOrForge) {
  // Random byte edits, insertions, deletions and truncations of a valid
  // note: every result is refused with a one-line integrity error, unless
  // the edits happened to give back the very same bytes.
  const auto seed = seed_of(5);
  auto key = verifier_key_from_seed(kOrigin, seed);
  const std::vector<std::string> ext = {"x"};
  auto note = sign_checkpoint(kOrigin, 123, some_root(), seed, kOrigin, ext);
  ASSERT_TRUE(note.ok());
  auto original = verify_checkpoint(*note, *key);
  ASSERT_TRUE(original.ok());
  std::mt19937 rng(42);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string m = *note;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !m.empty(); ++e) {
      const size_t at = rng() % m.size();
      switch (rng() % 4) {
        case 0: m[at] = static_cast<char>(rng()); break;
        case 1: m.insert(at, 1, static_cast<char>(rng())); break;
        case 2: m.erase(at, 1); break;
        case 3: m.resize(at); break;
      }
    }
    auto r = verify_checkpoint(m, *key);
    if (r.ok()) {
      ++accepted;
      EXPECT_EQ(m, *note);
      EXPECT_EQ(*r, *original);
    } else {
      EXPECT_EQ(r.error().code, Errc::integrity);
      EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
  }
  EXPECT_LT(accepted, 100);
}

}  // namespace
}  // namespace medvault::audit
