#include "fhir/text.h"

#include <cstdint>

#include "fhir/resource.h"

namespace medvault::fhir {
namespace {

// Latin Extended-A (U+0100..U+017F) folded to ASCII; '1' stands for "ij",
// '2' for "oe".
constexpr std::string_view kLatinExtA =
    "aaaaaa" "cccccccc" "dddd" "eeeeeeeeee" "gggggggg" "hhhh" "iiiiiiiiii" "11" "jj" "kkk"
    "llllllllll" "nnnnnnnnn" "oooooo" "22" "rrrrrr" "ssssssss" "tttttt" "uuuuuuuuuuuu" "ww" "yyy"
    "zzzzzz" "s";
static_assert(kLatinExtA.size() == 0x80);

// Latin-1 letters U+00C0..U+00FF folded; '1' = "ae", '2' = "th", '3' = "ss",
// ' ' = not a letter (multiplication and division signs).
constexpr std::string_view kLatin1 =
    "aaaaaa1ceeeeiiii" "dnooooo ouuuuy23" "aaaaaa1ceeeeiiii" "dnooooo ouuuuy2y";
static_assert(kLatin1.size() == 0x40);

// Decodes one UTF-8 code point at s[i]; returns 0xFFFFFFFF on a bad sequence
// (and advances by one byte).
uint32_t decode(std::string_view s, size_t& i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int n = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
  if (n < 0 || s.size() - i <= static_cast<size_t>(n)) {
    ++i;
    return 0xFFFFFFFF;
  }
  uint32_t cp = c & (n == 1 ? 0x1F : n == 2 ? 0x0F : 0x07);
  for (int k = 1; k <= n; ++k) {
    unsigned char cc = b(i + k);
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return 0xFFFFFFFF;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFFFFFF;
  }
  i += n + 1;
  return cp;
}

void encode(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void append_folded(char f, std::string& out) {
  switch (f) {
    case '1': out.append("ae"); break;
    case '2': out.append("th"); break;
    case '3': out.append("ss"); break;
    default: out.push_back(f);
  }
}

void append_folded_ext_a(char f, std::string& out) {
  switch (f) {
    case '1': out.append("ij"); break;
    case '2': out.append("oe"); break;
    default: out.push_back(f);
  }
}

bool is_apostrophe(uint32_t cp) { return cp == '\'' || cp == 0x2019 || cp == 0x2018 || cp == 0x02BC; }
bool is_combining_mark(uint32_t cp) { return cp >= 0x0300 && cp <= 0x036F; }

// Separators: ASCII and Latin-1 punctuation and symbols, general
// punctuation, spaces, and bytes that are not valid UTF-8.
bool is_separator(uint32_t cp) {
  if (cp < 0x80) return !((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'));
  return cp == 0xFFFFFFFF || (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||
         (cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 || (cp >= 0x3001 && cp <= 0x3003) ||
         cp == 0xFEFF;
}

// Simple lower-casing of the Greek and Cyrillic capitals.
uint32_t lower(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2) return cp + 32;
  if (cp >= 0x0410 && cp <= 0x042F) return cp + 32;
  if (cp >= 0x0400 && cp <= 0x040F) return cp + 80;
  return cp;
}

bool phone_like(std::string_view v) {
  bool digit = false;
  for (char c : v) {
    if (c >= '0' && c <= '9') digit = true;
    else if (c != ' ' && c != '+' && c != '-' && c != '(' && c != ')' && c != '.') return false;
  }
  return digit;
}

}  // namespace

std::string normalise_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  auto put_space = [&] { pending_space = !out.empty(); };
  auto start_char = [&] {
    if (pending_space) out.push_back(' ');
    pending_space = false;
  };
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = lower(decode(s, i));
    if (is_apostrophe(cp) || is_combining_mark(cp)) continue;
    if (is_separator(cp)) {
      put_space();
      continue;
    }
    start_char();
    if (cp < 0x80) out.push_back(static_cast<char>(cp));
    else if (cp >= 0xC0 && cp <= 0xFF) append_folded(kLatin1[cp - 0xC0], out);
    else if (cp >= 0x100 && cp <= 0x17F) append_folded_ext_a(kLatinExtA[cp - 0x100], out);
    else encode(cp, out);
  }
  return out;
}

std::vector<std::string_view> split_words(std::string_view normalised) {
  std::vector<std::string_view> words;
  size_t start = 0;
  while (start < normalised.size()) {
    size_t end = normalised.find(' ', start);
    if (end == std::string_view::npos) end = normalised.size();
    if (end > start) words.push_back(normalised.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

std::string_view cap_prefix(std::string_view word) {
  size_t chars = 0;
  for (size_t i = 0; i < word.size(); ++i) {
    if ((static_cast<unsigned char>(word[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (chars == kMaxPrefixChars) return word.substr(0, i);
    ++chars;
  }
  return word;
}

std::string normalise_telecom(std::string_view system, std::string_view value) {
  bool phone_system = system == "phone" || system == "fax" || system == "sms" || system == "pager";
  bool email = system == "email" || (system != "url" && value.find('@') != std::string_view::npos);
  std::string out;
  if (phone_system || (!email && system != "url" && phone_like(value))) {
    for (char c : value)
      if (c >= '0' && c <= '9') out.push_back(c);
    return out;
  }
  out.assign(value);
  // Trim the spaces a form may leave around a value.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  size_t lead = out.find_first_not_of(' ');
  out.erase(0, lead == std::string::npos ? out.size() : lead);
  if (email)
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

}  // namespace medvault::fhir
