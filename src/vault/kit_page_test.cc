// The printable recovery-kit pages (share-N.html) written at init.
#include "vault/kit_page.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/file.h"
#include "vault/vault.h"

namespace medvault::vault {
namespace {

namespace fs = std::filesystem;

class KitDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mv-kitpage-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST_F(KitDir, InitWritesOnePrintablePagePerShare) {
  InitOptions o;
  o.dir = root_ / "v";
  o.passphrase = crypto::SecretString("kit page test passphrase");
  o.argon2 = crypto::Argon2Params::interactive();
  o.shares = 3;
  o.threshold = 2;
  o.kit_dir = root_ / "kit";
  ASSERT_TRUE(Vault::init(o).ok());
  Unsealer u;
  u.passphrase = crypto::SecretString("kit page test passphrase");
  auto v = Vault::open(o.dir, u);
  ASSERT_TRUE(v.ok()) << v.error().message;
  const std::string vault_id = (*v)->status()->vault_id;

  for (int i = 1; i <= 3; ++i) {
    SCOPED_TRACE("share " + std::to_string(i));
    const fs::path html = o.kit_dir / ("share-" + std::to_string(i) + ".html");
    ASSERT_TRUE(fs::exists(html));
    EXPECT_EQ(fs::status(html).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    auto page = read_file(html);
    ASSERT_TRUE(page.ok());
    auto text = read_file(o.kit_dir / ("share-" + std::to_string(i) + ".txt"));
    ASSERT_TRUE(text.ok());
    std::string share = *text;
    while (!share.empty() && share.back() == '\n') share.pop_back();
    ASSERT_FALSE(share.empty());

    EXPECT_EQ(count(*page, share), 1u) << "the share text, once";
    EXPECT_NE(page->find(vault_id), std::string::npos);
    EXPECT_EQ(count(*page, "<svg"), 1u);
    EXPECT_EQ(page->find("<?xml"), std::string::npos) << "inline SVG, not a file";
    // Which share, in both languages, and both procedures.
    EXPECT_NE(page->find("Part " + std::to_string(i) + " sur 3"), std::string::npos);
    EXPECT_NE(page->find("Share " + std::to_string(i) + " of 3"), std::string::npos);
    EXPECT_NE(page->find("2 parts quelconques ouvrent le coffre"), std::string::npos);
    EXPECT_NE(page->find("any 2 shares open the vault"), std::string::npos);
    EXPECT_NE(page->find("Procédure (français)"), std::string::npos);
    EXPECT_NE(page->find("Procedure (English)"), std::string::npos);
    EXPECT_NE(page->find("medvault backup restore --from TARGET --data NEWDIR --share share-" + std::to_string(i)),
              std::string::npos);
    EXPECT_NE(page->find("medvault backup restore --from CIBLE --data NOUVEAU_DOSSIER"), std::string::npos);
    EXPECT_NE(page->find("medvault backup drill --from TARGET"), std::string::npos);
    EXPECT_NE(page->find("medvault backup drill --from CIBLE"), std::string::npos);
    // Printable on one A4 page, self-contained: no script, nothing fetched.
    EXPECT_NE(page->find("@page { size: A4"), std::string::npos);
    EXPECT_NE(page->find("default-src 'none'"), std::string::npos);
    EXPECT_EQ(page->find("<script"), std::string::npos);
    EXPECT_EQ(page->find("src="), std::string::npos);
    EXPECT_EQ(page->find("href="), std::string::npos);
    EXPECT_EQ(page->find("url("), std::string::npos);
    EXPECT_EQ(page->find("@import"), std::string::npos);
    // The only URL is the SVG namespace name, which is never fetched.
    EXPECT_EQ(count(*page, "http"), count(*page, "http://www.w3.org/2000/svg") + 1)
        << "one http-equiv and the SVG namespace";
  }
  EXPECT_FALSE(fs::exists(o.kit_dir / "share-4.html"));
}

TEST(KitPage, EscapesWhatItIsGiven) {
  auto page = kit_share_page("v<1>", 1, 2, 2, "a&b<script>");
  ASSERT_TRUE(page.ok());
  EXPECT_NE(page->find("a&amp;b&lt;script&gt;"), std::string::npos);
  EXPECT_NE(page->find("v&lt;1&gt;"), std::string::npos);
  EXPECT_EQ(page->find("<script"), std::string::npos);
}

TEST(KitPage, TextTooLongForAQrCodeIsAnError) {
  auto page = kit_share_page("v", 1, 2, 2, std::string(5000, 'x'));
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.error().code, Errc::too_large);
}

}  // namespace
}  // namespace medvault::vault
