#include "crypto/seal.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/test_util.h"

namespace medvault::crypto {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const bool kSodiumReady = init();

std::string hex(const SecretKey& k) { return testing::to_hex(k.bytes()); }

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const fs::path& p, std::string_view s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

// Every n-subset of v.
template <typename T>
std::vector<std::vector<T>> subsets(const std::vector<T>& v, size_t n) {
  std::vector<std::vector<T>> out;
  std::vector<bool> pick(v.size(), false);
  std::fill(pick.begin(), pick.begin() + static_cast<long>(n), true);
  do {
    std::vector<T> s;
    for (size_t i = 0; i < v.size(); ++i)
      if (pick[i]) s.push_back(v[i]);
    out.push_back(std::move(s));
  } while (std::prev_permutation(pick.begin(), pick.end()));
  return out;
}

// ---- an independent reading of docs/formats/crypto.md ----------------------

std::string u64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}
std::string field(std::string_view b) { return u64(b.size()) + std::string(b); }

std::string unbase64(std::string_view s) {
  std::string out(s.size(), '\0');
  size_t len = 0;
  sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(), nullptr, &len,
                    nullptr, sodium_base64_VARIANT_ORIGINAL);
  out.resize(len);
  return out;
}

std::string blake2b_hex(std::string_view s, size_t len = 32) {
  std::string h(len, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(h.data()), len, reinterpret_cast<const unsigned char*>(s.data()),
                     s.size(), nullptr, 0);
  return testing::to_hex(h);
}

// Rewrites the file's checksum to match its (edited) content, so that a test
// reaches the checks behind it.
std::string with_fresh_checksum(const std::string& text) {
  json::object root = json::parse(text).as_object();
  const std::string vault(root["vault_id"].as_string());
  std::string in = "medvault-seal-checksum-v1" + u64(1) + field(vault) + u64(root["slots"].as_array().size());
  for (const auto& v : root["slots"].as_array()) {
    const auto& s = v.as_object();
    const std::string kind(s.at("kind").as_string());
    std::string ad = "medvault-seal-v1" + field(vault) + field(kind);
    if (kind != "recovery") ad += field(unbase64(s.at("salt").as_string()));
    if (kind == "passphrase")
      ad += u64(static_cast<uint64_t>(s.at("opslimit").as_int64())) + u64(static_cast<uint64_t>(s.at("memlimit").as_int64()));
    if (kind == "recovery") {
      ad += u64(static_cast<uint64_t>(s.at("n").as_int64())) + u64(static_cast<uint64_t>(s.at("k").as_int64()));
      // The backup public key, when the slot has one (docs/formats/crypto.md).
      if (const auto* pk = s.if_contains("backup_key")) ad += field(unbase64(pk->as_string()));
    }
    in += field(ad) + field(unbase64(s.at("wrapped").as_string()));
  }
  root["checksum"] = blake2b_hex(in);
  return json::serialize(root) + "\n";
}

// A share text with a correct checksum for whatever body it is given.
std::string share_with_checksum(const std::string& body) { return body + ":" + blake2b_hex(body).substr(0, 8); }

std::string body_of(const std::string& share) { return share.substr(0, share.rfind(':')); }

// ---- fixture --------------------------------------------------------------

class CryptoSeal : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kSodiumReady);
    std::string tmpl = (fs::temp_directory_path() / "mv-seal-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ / "master.seal";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A seal with all three kinds of slot, saved to path_.
  std::vector<ShareFile> make_full(KeySeal& seal, const SecretKey& master, int n = 5, int k = 3) {
    seal.set_passphrase(master, "correct horse", Argon2Params::interactive());
    seal.set_keyfile(master, bytes(keyfile_));
    auto shares = seal.set_recovery(master, n, k);
    EXPECT_TRUE(seal.save(path_).ok());
    return shares;
  }

  void expect_sealed(const Result<SecretKey>& r, std::string_view message) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::sealed);
    EXPECT_EQ(r.error().message, message);
  }

  // load() must fail with Errc::sealed, a one-line message naming the file.
  std::string expect_load_fails(const std::string& content) {
    write(path_, content);
    auto r = KeySeal::load(path_);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return {};
    EXPECT_EQ(r.error().code, Errc::sealed);
    EXPECT_NE(r.error().message.find(path_.string()), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    return r.error().message;
  }

  fs::path dir_, path_;
  std::string keyfile_ = std::string(64, 'K') + "key file";
};

TEST_F(CryptoSeal, ParamsPresets) {
  EXPECT_EQ(Argon2Params::moderate().opslimit, crypto_pwhash_OPSLIMIT_MODERATE);
  EXPECT_EQ(Argon2Params::moderate().memlimit, crypto_pwhash_MEMLIMIT_MODERATE);
  EXPECT_EQ(Argon2Params::interactive().opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
  EXPECT_EQ(Argon2Params::interactive().memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

TEST_F(CryptoSeal, EmptySealHasNoSlots) {
  KeySeal seal("v1");
  EXPECT_EQ(seal.vault_id(), "v1");
  EXPECT_FALSE(seal.has_passphrase());
  EXPECT_FALSE(seal.has_keyfile());
  EXPECT_FALSE(seal.has_recovery());
  EXPECT_EQ(seal.recovery_threshold(), 0);
  EXPECT_EQ(seal.recovery_shares(), 0);
  expect_sealed(seal.unseal_passphrase("x"), "this vault has no passphrase slot");
  expect_sealed(seal.unseal_keyfile(bytes("x")), "this vault has no key-file slot");
  expect_sealed(seal.unseal_shares({}), "this vault has no recovery slot");
}

TEST_F(CryptoSeal, SaveLoadRoundTripWithEverySlot) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto shares = make_full(seal, master);
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto text = read(path_);
  EXPECT_EQ(text.find(hex(master)), std::string::npos);

  auto loaded = KeySeal::load(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->vault_id(), "vault-a");
  EXPECT_TRUE(loaded->has_passphrase());
  EXPECT_TRUE(loaded->has_keyfile());
  EXPECT_TRUE(loaded->has_recovery());
  EXPECT_EQ(loaded->recovery_threshold(), 3);
  EXPECT_EQ(loaded->recovery_shares(), 5);

  auto p = loaded->unseal_passphrase("correct horse");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(hex(*p), hex(master));
  auto k = loaded->unseal_keyfile(bytes(keyfile_));
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(hex(*k), hex(master));
  auto s = loaded->unseal_shares({shares[0].text, shares[2].text, shares[4].text});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(hex(*s), hex(master));

  // Saving what was loaded gives a file that still opens.
  ASSERT_TRUE(loaded->save(path_).ok());
  auto again = KeySeal::load(path_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(hex(*again->unseal_keyfile(bytes(keyfile_))), hex(master));
}

TEST_F(CryptoSeal, WrongPassphraseAndKeyFile) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  make_full(seal, master);
  expect_sealed(seal.unseal_passphrase("correct horsE"), "wrong passphrase");
  expect_sealed(seal.unseal_passphrase(""), "wrong passphrase");
  expect_sealed(seal.unseal_keyfile(bytes(keyfile_ + "\n")), "wrong key file");
  expect_sealed(seal.unseal_keyfile({}), "wrong key file");
}

TEST_F(CryptoSeal, LongKeyFilesAndEmptyPassphraseWork) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  std::string big(1 << 20, 'z');
  seal.set_keyfile(master, bytes(big));
  seal.set_passphrase(master, "", Argon2Params::interactive());
  EXPECT_EQ(hex(*seal.unseal_keyfile(bytes(big))), hex(master));
  big.back() = 'y';
  expect_sealed(seal.unseal_keyfile(bytes(big)), "wrong key file");
  EXPECT_EQ(hex(*seal.unseal_passphrase("")), hex(master));
}

TEST_F(CryptoSeal, SettingASlotAgainReplacesIt) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  seal.set_passphrase(master, "old", Argon2Params::interactive());
  seal.set_passphrase(master, "new", Argon2Params::interactive());
  expect_sealed(seal.unseal_passphrase("old"), "wrong passphrase");
  EXPECT_EQ(hex(*seal.unseal_passphrase("new")), hex(master));
  ASSERT_TRUE(seal.save(path_).ok());
  auto root = json::parse(read(path_)).as_object();
  EXPECT_EQ(root["slots"].as_array().size(), 1u);
}

TEST_F(CryptoSeal, AnyKOfNSharesUnsealAndFewerDoNot) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto files = seal.set_recovery(master, 5, 3);
  ASSERT_EQ(files.size(), 5u);
  std::vector<std::string> texts;
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(files[i].number, static_cast<int>(i + 1));
    EXPECT_EQ(files[i].text.rfind("medvault-share-v1:vault-a:3:5:" + std::to_string(i + 1) + ":", 0), 0u);
    texts.push_back(files[i].text);
  }
  for (size_t n = 3; n <= 5; ++n)
    for (const auto& subset : subsets(texts, n)) {
      auto r = seal.unseal_shares(subset);
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_EQ(hex(*r), hex(master));
    }
  for (size_t n = 0; n < 3; ++n)
    for (const auto& subset : subsets(texts, n))
      expect_sealed(seal.unseal_shares(subset), "need 3 shares, got " + std::to_string(n));
}

TEST_F(CryptoSeal, DuplicateSharesCountOnce) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto f = seal.set_recovery(master, 5, 3);
  expect_sealed(seal.unseal_shares({f[0].text, f[0].text, f[1].text}), "need 3 shares, got 2");
  expect_sealed(seal.unseal_shares({f[0].text, f[0].text + "\n", f[1].text}), "need 3 shares, got 2");
  auto r = seal.unseal_shares({f[0].text, f[1].text, f[0].text, f[2].text});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(hex(*r), hex(master));
}

TEST_F(CryptoSeal, ShareTextToleratesSurroundingWhitespaceAndChecksumCase) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto f = seal.set_recovery(master, 3, 2);
  auto upper = f[1].text;
  for (size_t i = upper.size() - 8; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  auto r = seal.unseal_shares({"  " + f[0].text + "\r\n", upper});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(hex(*r), hex(master));
}

TEST_F(CryptoSeal, EveryTypoInAShareIsCaught) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto f = seal.set_recovery(master, 3, 2);
  const std::string good = f[0].text;
  // Substitutions that differ from the original even ignoring case (the
  // checksum is read case-insensitively).
  for (size_t i = 0; i < good.size(); ++i)
    for (auto [x, y] : {std::pair{'z', 'y'}, std::pair{'7', '8'}}) {
      auto typo = good;
      typo[i] = std::tolower(typo[i]) == x ? y : x;
      auto r = seal.unseal_shares({typo, f[1].text});
      ASSERT_FALSE(r.ok()) << "position " << i;
      EXPECT_EQ(r.error().code, Errc::sealed);
    }
  // A typo in the share bytes is reported as damage to that share.
  auto typo = good;
  size_t pos = body_of(good).size() - 3;
  typo[pos] = typo[pos] == 'A' ? 'B' : 'A';
  expect_sealed(seal.unseal_shares({typo, f[1].text}), "share 1 is damaged (checksum)");
  expect_sealed(seal.unseal_shares({good.substr(0, good.size() - 1), f[1].text}),
                "share 1 is damaged (checksum)");
  expect_sealed(seal.unseal_shares({"hello", f[1].text}), "share #1 (in the order given) is not a medvault recovery share");
  expect_sealed(seal.unseal_shares({f[1].text, "medvault-share-v1:x"}), "share #2 (in the order given) is damaged (missing fields)");
  expect_sealed(seal.unseal_shares({f[1].text, ""}), "share #2 (in the order given) is not a medvault recovery share");
}

TEST_F(CryptoSeal, SharesOfAnotherVaultAreRefused) {
  auto master = SecretKey::random();
  KeySeal a("vault-a"), b("vault-b");
  auto fa = a.set_recovery(master, 3, 2);
  auto fb = b.set_recovery(master, 3, 2);
  expect_sealed(a.unseal_shares({fa[0].text, fb[1].text}), "share 2 belongs to another vault");
  expect_sealed(a.unseal_shares({fb[0].text, fb[1].text}), "share 1 belongs to another vault");
}

TEST_F(CryptoSeal, SharesOfAnotherKitOfTheSameVaultDoNotUnseal) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto old_kit = seal.set_recovery(master, 5, 3);
  auto new_kit = seal.set_recovery(master, 5, 3);
  EXPECT_TRUE(seal.unseal_shares({new_kit[0].text, new_kit[1].text, new_kit[2].text}).ok());
  expect_sealed(seal.unseal_shares({old_kit[0].text, old_kit[1].text, old_kit[2].text}),
                "these shares do not unseal this vault");
  expect_sealed(seal.unseal_shares({old_kit[0].text, new_kit[1].text, new_kit[2].text}),
                "these shares do not unseal this vault");
  expect_sealed(seal.unseal_shares({old_kit[0].text, new_kit[0].text, new_kit[1].text}),
                "two different shares carry number 1");
  auto other_shape = KeySeal("vault-a").set_recovery(master, 4, 2);
  expect_sealed(seal.unseal_shares({other_shape[0].text, new_kit[1].text, new_kit[2].text}),
                "share 1 is from another recovery kit (2 of 4); this vault's kit is 3 of 5");
}

TEST_F(CryptoSeal, ForgedShareWithValidChecksumDoesNotUnseal) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto f = seal.set_recovery(master, 3, 2);
  auto body = body_of(f[0].text);
  // Replace the share bytes by 32 zero bytes, with a matching checksum.
  auto forged = share_with_checksum(body.substr(0, body.rfind(':') + 1) + std::string(43, 'A') + "=");
  expect_sealed(seal.unseal_shares({forged, f[1].text}), "these shares do not unseal this vault");
  // A share number outside 1..n, checksum intact.
  auto out_of_range = share_with_checksum("medvault-share-v1:vault-a:2:3:9:" + std::string(43, 'A') + "=");
  expect_sealed(seal.unseal_shares({out_of_range, f[1].text}), "share 9 is damaged (share number)");
  auto bad_k = share_with_checksum("medvault-share-v1:vault-a:two\nlines:3:3:" + std::string(43, 'A') + "=");
  expect_sealed(seal.unseal_shares({bad_k, f[1].text}), "share 3 is damaged (k or n)");
  auto short_bytes = share_with_checksum("medvault-share-v1:vault-a:2:3:3:AAAA");
  expect_sealed(seal.unseal_shares({short_bytes, f[1].text}), "share 3 is damaged (share bytes)");
}

TEST_F(CryptoSeal, ExtremeThresholds) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto f = seal.set_recovery(master, 255, 2);
  ASSERT_EQ(f.size(), 255u);
  EXPECT_EQ(hex(*seal.unseal_shares({f[254].text, f[0].text})), hex(master));
  EXPECT_EQ(hex(*seal.unseal_shares({f[100].text, f[17].text})), hex(master));
  auto all = seal.set_recovery(master, 4, 4);
  expect_sealed(seal.unseal_shares({all[0].text, all[1].text, all[3].text}), "need 4 shares, got 3");
  EXPECT_EQ(hex(*seal.unseal_shares({all[3].text, all[2].text, all[1].text, all[0].text})), hex(master));
}

TEST_F(CryptoSeal, TruncatedFileAtEveryLengthIsSealedError) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  make_full(seal, master);
  const auto text = read(path_);
  ASSERT_FALSE(text.empty());
  for (size_t n = 0; n < text.size(); ++n) {
    auto msg = expect_load_fails(text.substr(0, n));
    EXPECT_NE(msg.find("is truncated"), std::string::npos) << n << ": " << msg;
  }
}

TEST_F(CryptoSeal, EveryCorruptedByteIsCaught) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  make_full(seal, master);
  const auto text = read(path_);
  size_t loaded = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    for (char x : {char(0x01), char(0x20), char(0x80)}) {
      auto bad = text;
      bad[i] = static_cast<char>(bad[i] ^ x);
      write(path_, bad);
      auto r = KeySeal::load(path_);
      if (!r.ok()) {
        EXPECT_EQ(r.error().code, Errc::sealed);
        continue;
      }
      // Only edits that do not change the meaning may load (none are known
      // in this format); they must still unseal to the same key.
      ++loaded;
      auto k = r->unseal_keyfile(bytes(keyfile_));
      if (k.ok()) {
        EXPECT_EQ(hex(*k), hex(master));
      }
    }
  }
  EXPECT_EQ(loaded, 0u);
}

TEST_F(CryptoSeal, HostileFilesGiveClearErrors) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  make_full(seal, master);
  const auto good = read(path_);
  auto edit = [&](auto f) {
    json::object root = json::parse(good).as_object();
    f(root);
    return json::serialize(root) + "\n";
  };
  auto slot = [](json::object& root, size_t i) -> json::object& { return root["slots"].as_array()[i].as_object(); };
  struct Case {
    std::string content, reason;
  };
  std::vector<Case> cases = {
      {"\n", "truncated"},
      {std::string("\x00\xff\n", 3), "not valid JSON"},
      {std::string(20, '[') + "\n", "truncated"},
      {"{\"a\":1}x\n", "not valid JSON"},
      {"[1,2]\n", "not a JSON object"},
      {std::string(100, '[') + "\n", "not valid JSON"},  // nesting limit
      {std::string(100, '[') + std::string(100, ']') + "\n", "not valid JSON"},
      {edit([](auto& r) { r["format"] = "something-else"; }), "not a medvault seal file"},
      {edit([](auto& r) { r.erase("version"); }), "no format version"},
      {edit([](auto& r) { r["version"] = 2; }), "unsupported format version 2"},
      {edit([](auto& r) { r["version"] = "1"; }), "no format version"},
      {edit([](auto& r) { r["version"] = -1; }), "no format version"},
      {edit([](auto& r) { r["vault_id"] = ""; }), "bad vault id"},
      {edit([](auto& r) { r["vault_id"] = "a:b"; }), "bad vault id"},
      {edit([](auto& r) { r["vault_id"] = 7; }), "bad vault id"},
      {edit([](auto& r) { r["slots"] = json::array(); }), "no key slots"},
      {edit([](auto& r) { r["slots"] = "x"; }), "no slots"},
      {edit([&](auto& r) { r["slots"].as_array().push_back(1); }), "a slot is not an object"},
      {edit([&](auto& r) { slot(r, 0)["kind"] = "fingerprint"; }), "unknown slot kind"},
      {edit([&](auto& r) { slot(r, 0).erase("kind"); }), "a slot has no kind"},
      {edit([&](auto& r) { r["slots"].as_array().push_back(slot(r, 1)); }), "two keyfile slots"},
      {edit([&](auto& r) { slot(r, 0)["salt"] = "AAAA"; }), "passphrase slot: bad salt"},
      {edit([&](auto& r) { slot(r, 0)["salt"] = "!!!"; }), "passphrase slot: bad salt"},
      {edit([&](auto& r) { slot(r, 0)["opslimit"] = 0; }), "passphrase slot: bad opslimit"},
      {edit([&](auto& r) { slot(r, 0)["opslimit"] = 1000000; }), "passphrase slot: bad opslimit"},
      {edit([&](auto& r) { slot(r, 0)["opslimit"] = 2.5; }), "passphrase slot: bad opslimit"},
      {edit([&](auto& r) { slot(r, 0)["memlimit"] = uint64_t(1) << 50; }), "passphrase slot: bad memlimit"},
      {edit([&](auto& r) { slot(r, 0)["memlimit"] = 1024; }), "passphrase slot: bad memlimit"},
      {edit([&](auto& r) { slot(r, 1)["wrapped"] = "AAAA"; }), "keyfile slot: bad wrapped key"},
      {edit([&](auto& r) { slot(r, 1).erase("wrapped"); }), "keyfile slot: bad wrapped key"},
      {edit([&](auto& r) { slot(r, 2)["k"] = 6; }), "recovery slot: bad n or k"},
      {edit([&](auto& r) { slot(r, 2)["k"] = 1; }), "recovery slot: bad n or k"},
      {edit([&](auto& r) { slot(r, 2)["n"] = 256; }), "recovery slot: bad n or k"},
      {edit([&](auto& r) { slot(r, 2)["n"] = -5; }), "recovery slot: bad n or k"},
      {edit([&](auto& r) { r["checksum"] = std::string(64, '0'); }), "checksum mismatch"},
      {edit([&](auto& r) { r.erase("checksum"); }), "checksum mismatch"},
      {edit([&](auto& r) { slot(r, 2)["k"] = 2; }), "checksum mismatch"},
  };
  for (const auto& c : cases) {
    auto msg = expect_load_fails(c.content);
    EXPECT_NE(msg.find(c.reason), std::string::npos) << "want '" << c.reason << "', got '" << msg << "'";
  }
  // A wrapped key with a bad version byte (base64 "Ag" starts with 0x02).
  auto w = edit([&](auto& r) {
    std::string s(slot(r, 1)["wrapped"].as_string());
    slot(r, 1)["wrapped"] = "Ag" + s.substr(2);
  });
  expect_load_fails(w);
}

TEST_F(CryptoSeal, FileSystemProblemsAreSealedErrors) {
  auto r = KeySeal::load(dir_ / "missing.seal");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::sealed);
  EXPECT_NE(r.error().message.find("missing.seal"), std::string::npos);
  r = KeySeal::load(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::sealed);
  auto msg = expect_load_fails(std::string(2 << 20, ' '));
  EXPECT_NE(msg.find("larger than"), std::string::npos);
}

// Edits that keep the file well formed (fresh checksum) but change what a
// slot's associated data binds: the AEAD must refuse them.
TEST_F(CryptoSeal, AssociatedDataBindsVaultKindAndParameters) {
  auto master = SecretKey::random();
  KeySeal seal("vault-a");
  auto shares = make_full(seal, master);
  const auto good = read(path_);
  auto edit = [&](auto f) {
    json::object root = json::parse(good).as_object();
    f(root);
    write(path_, with_fresh_checksum(json::serialize(root)));
    auto r = KeySeal::load(path_);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return std::move(r).value();
  };
  auto slot = [](json::object& root, size_t i) -> json::object& { return root["slots"].as_array()[i].as_object(); };

  // The test's own checksum agrees with the implementation's.
  EXPECT_EQ(with_fresh_checksum(good), good);

  auto moved = edit([](auto& r) { r["vault_id"] = "vault-b"; });
  expect_sealed(moved.unseal_passphrase("correct horse"), "wrong passphrase");
  expect_sealed(moved.unseal_keyfile(bytes(keyfile_)), "wrong key file");

  auto cheaper = edit([&](auto& r) { slot(r, 0)["opslimit"] = 1; slot(r, 0)["memlimit"] = 8192; });
  expect_sealed(cheaper.unseal_passphrase("correct horse"), "wrong passphrase");

  auto resalted = edit([&](auto& r) { slot(r, 1)["salt"] = slot(r, 0)["salt"]; });
  expect_sealed(resalted.unseal_keyfile(bytes(keyfile_)), "wrong key file");

  auto reshaped = edit([&](auto& r) { slot(r, 2)["k"] = 2; });
  // Shares of a 3-of-5 kit no longer match the slot's shape.
  EXPECT_FALSE(reshaped.unseal_shares({shares[0].text, shares[1].text, shares[2].text}).ok());

  // Another backup public key slipped into the recovery slot (backups would
  // be sealed to someone else): the slot no longer unseals.
  auto rekeyed = edit([&](auto& r) { slot(r, 2)["backup_key"] = std::string(43, 'A') + "="; });
  EXPECT_FALSE(rekeyed.unseal_shares({shares[0].text, shares[1].text, shares[2].text}).ok());

  // The key-file slot's wrapped key moved into the passphrase slot.
  auto swapped = edit([&](auto& r) { slot(r, 0)["wrapped"] = slot(r, 1)["wrapped"]; });
  expect_sealed(swapped.unseal_passphrase("correct horse"), "wrong passphrase");
}

// A seal file written by an independent implementation of
// docs/formats/crypto.md (Python hashlib + PyNaCl).
TEST_F(CryptoSeal, GoldenFileFromTheSpec) {
  write(path_,
        R"({"format":"medvault-seal","version":1,"vault_id":"0123456789abcdef01234567","slots":[{"kind":"keyfile","salt":"AAECAwQFBgcICQoLDA0ODw==","wrapped":"AWRlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e7YcyS1+oO4Dv5oWSwVnziaDNwzlR6np6JTmFWMnwxHhXgTLtBv4FcwlwtYfMr0ntQ=="},{"kind":"passphrase","salt":"EBESExQVFhcYGRobHB0eHw==","opslimit":1,"memlimit":8192,"wrapped":"ATIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdIScZNxQ9Oy2ACG+1xPh47lG4r+IYP9q3oK3GY2A3+1x7lVmLuzFJ4lgOmJyTDLhnbEQ=="}],"checksum":"def3d7824317b8478d49117175000cfc478af4d9857e7f724930fc5ad5aa8af0"})"
        "\n");
  auto seal = KeySeal::load(path_);
  ASSERT_TRUE(seal.ok()) << seal.error().message;
  const std::string want = "c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7";  // bytes 200..231
  std::string keyfile;
  for (int i = 0; i < 10; ++i) keyfile += "key file bytes\n";
  auto k = seal->unseal_keyfile(bytes(keyfile));
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(hex(*k), want);
  auto p = seal->unseal_passphrase("golden passphrase");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(hex(*p), want);
  // And the share checksum of the spec.
  EXPECT_EQ(share_with_checksum("medvault-share-v1:0123456789abcdef01234567:2:3:1:" + std::string(43, 'A') + "="),
            "medvault-share-v1:0123456789abcdef01234567:2:3:1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:9fc49705");
}

TEST_F(CryptoSeal, SaveRefusesAVaultIdTheFormatCannotHold) {
  KeySeal seal("a:b");
  seal.set_keyfile(SecretKey::random(), bytes(keyfile_));
  auto st = seal.save(path_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::invalid);
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(CryptoSeal, MovesKeepSlots) {
  auto master = SecretKey::random();
  KeySeal a("vault-a");
  a.set_keyfile(master, bytes(keyfile_));
  KeySeal b(std::move(a));
  EXPECT_TRUE(b.has_keyfile());
  KeySeal c("other");
  c = std::move(b);
  EXPECT_EQ(c.vault_id(), "vault-a");
  EXPECT_EQ(hex(*c.unseal_keyfile(bytes(keyfile_))), hex(master));
}

}  // namespace
}  // namespace medvault::crypto
