#include "http/static_files.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace medvault::http {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Every `name=value` of a lower-cased HTML text (value unquoted): each run
// of [a-z0-9-] after whitespace and before '='. Cruder than an HTML parser,
// never more lenient: text such as "a b=c" would count too.
std::vector<std::pair<std::string, std::string>> attributes(const std::string& html) {
  auto name_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < html.size(); ++i) {
    if (html[i] != ' ' && html[i] != '\n' && html[i] != '\t' && html[i] != '\r') continue;
    size_t j = i + 1;
    while (j < html.size() && name_char(html[j])) ++j;
    size_t eq = html.find_first_not_of(" \t\r\n", j);
    if (j == i + 1 || eq == std::string::npos || html[eq] != '=') continue;
    size_t v = html.find_first_not_of(" \t\r\n", eq + 1);
    if (v == std::string::npos) break;
    const bool quoted = html[v] == '"' || html[v] == '\'';
    size_t end = quoted ? html.find(html[v], v + 1) : html.find_first_of(" \t\r\n>", v);
    if (quoted) ++v;
    if (end == std::string::npos) end = html.size();
    out.emplace_back(html.substr(i + 1, j - i - 1), html.substr(v, end - v));
  }
  return out;
}

std::string_view body_of(std::string_view path) {
  const StaticFile* f = find_static(path);
  return f ? f->body : std::string_view();
}

TEST(StaticFiles, RootIsTheIndexPage) {
  const StaticFile* f = find_static("/");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->path, "/static/index.html");
  EXPECT_EQ(f->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(f->body.starts_with("<!doctype html>"));
  EXPECT_NE(f->body.find(R"(<script type="module" src="/static/app.js"></script>)"), std::string_view::npos);
}

TEST(StaticFiles, EveryFileOfWebIsEmbeddedByteForByte) {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(MEDVAULT_WEB_DIR)) {
    if (!entry.is_regular_file()) continue;
    ++n;
    const std::string name = entry.path().filename().string();
    const StaticFile* f = find_static("/static/" + name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->body, read_file(entry.path())) << name;
  }
  EXPECT_EQ(n, static_files().size());
  EXPECT_GE(n, 3u);
  EXPECT_EQ(find_static("/static/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_static("/static/app.css")->content_type, "text/css; charset=utf-8");
  // find_static bisects: the table must be sorted and without duplicates.
  const auto files = static_files();
  EXPECT_TRUE(std::adjacent_find(files.begin(), files.end(), [](const StaticFile& a, const StaticFile& b) {
                return a.path >= b.path;
              }) == files.end());
}

TEST(StaticFiles, UnknownPathsAreNotFound) {
  using namespace std::string_view_literals;
  const std::string_view unknown[] = {
      "", "/static/", "/static", "/app.js", "/index.html", "/static/nope.js", "/static/../vault.db",
      "/static/app.js/x", "/STATIC/app.js", "/static/app.j", "/static/app.jss", "static/app.js",
      "/static/app.js\0"sv};
  for (std::string_view p : unknown) {
    EXPECT_EQ(find_static(p), nullptr) << p;
  }
}

// The server's CSP is "default-src 'self'": whatever the page needs must
// come from its own files. These checks catch what the CSP would block (or
// what would make the app unsafe) before a browser does.
TEST(StaticFiles, PageNeedsNothingTheContentSecurityPolicyForbids) {
  const std::string html = lower(body_of("/"));
  // Scripts only by src, never inline; no <style> blocks, style attributes or
  // inline event handlers; nothing from another origin.
  size_t scripts = 0;
  for (size_t at = html.find("<script"); at != std::string::npos; at = html.find("<script", at + 1)) {
    ++scripts;
    const size_t close = html.find('>', at);
    ASSERT_NE(close, std::string::npos);
    EXPECT_NE(html.substr(at, close - at).find(" src=\"/static/"), std::string::npos) << "script without src";
    EXPECT_EQ(html.compare(close + 1, 9, "</script>"), 0) << "inline script";
  }
  EXPECT_EQ(scripts, 1u);
  EXPECT_EQ(html.find("<style"), std::string::npos);
  const auto attrs = attributes(html);
  EXPECT_GT(attrs.size(), 20u);
  for (const auto& [name, value] : attrs) {
    EXPECT_NE(name, "style") << value;
    EXPECT_FALSE(name.starts_with("on")) << name << "=" << value;
    if (name == "src" || name == "href" || name == "action") {
      for (const char* bad : {"http:", "https:", "//", "data:", "javascript:"})
        EXPECT_FALSE(value.starts_with(bad)) << name << "=" << value;
    }
  }
  for (std::string_view path : {"/static/app.js", "/static/app.css"}) {
    const std::string text(body_of(path));
    ASSERT_FALSE(text.empty()) << path;
    for (const char* banned : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                               "new Function", "localStorage", "sessionStorage", "data:", "http://", "https://"}) {
      EXPECT_EQ(text.find(banned), std::string::npos) << path << " uses " << banned;
    }
  }
  // Patient ids never go into the page's URL.
  const std::string js(body_of("/static/app.js"));
  for (const char* banned : {"location.", "history.pushState", "history.replaceState"})
    EXPECT_EQ(js.find(banned), std::string::npos) << "app.js uses " << banned;
}

}  // namespace
}  // namespace medvault::http
