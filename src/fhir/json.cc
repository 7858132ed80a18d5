#include "fhir/json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <unordered_set>
#include <vector>

#include "fhir/json_errors.h"

namespace medvault::fhir {
namespace {

namespace bj = boost::json;

constexpr char kNumberMark = '\xFF';

// Errors raised by the handler itself (limits, duplicate keys); the parser's
// own errors come as boost::json::error codes.
enum class HandlerError { none, duplicate_key, array_too_long, string_too_long };

// Builds a boost::json::value through value_stack, numbers as "\xFF<text>".
// Also tracks the keys of every open object to reject duplicates, which
// FHIR forbids and value_stack would silently collapse (last one wins).
class Handler {
 public:
  // Runtime limits are enforced in the callbacks; these static ones are the
  // parser's compile-time ceilings.
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  explicit Handler(const ParseLimits& limits) : limits_(limits), st_({}, temp_, sizeof(temp_)) {}

  bj::value_stack& stack() { return st_; }
  HandlerError error() const { return error_; }

  bool on_document_begin(bj::error_code&) {
    st_.reset();
    return true;
  }
  bool on_document_end(bj::error_code&) { return true; }

  bool on_array_begin(bj::error_code&) { return true; }
  bool on_array_end(std::size_t n, bj::error_code& ec) {
    if (n > limits_.max_array) return fail(HandlerError::array_too_long, ec);
    st_.push_array(n);
    return true;
  }

  bool on_object_begin(bj::error_code&) {
    if (depth_ == levels_.size()) levels_.emplace_back();
    Level& l = levels_[depth_++];
    l.keys.clear();
    l.set.clear();
    return true;
  }
  bool on_object_end(std::size_t n, bj::error_code&) {
    --depth_;
    st_.push_object(n);
    return true;
  }

  bool on_string_part(bj::string_view s, std::size_t n, bj::error_code& ec) {
    if (n > limits_.max_string) return fail(HandlerError::string_too_long, ec);
    st_.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, std::size_t n, bj::error_code& ec) {
    if (n > limits_.max_string) return fail(HandlerError::string_too_long, ec);
    st_.push_string(s);
    return true;
  }

  bool on_key_part(bj::string_view s, std::size_t n, bj::error_code& ec) {
    if (n > limits_.max_string) return fail(HandlerError::string_too_long, ec);
    key_.append(s.data(), s.size());
    st_.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, std::size_t n, bj::error_code& ec) {
    if (n > limits_.max_string) return fail(HandlerError::string_too_long, ec);
    key_.append(s.data(), s.size());
    if (!remember_key(key_)) return fail(HandlerError::duplicate_key, ec);
    key_.clear();
    st_.push_key(s);
    return true;
  }

  bool on_number_part(bj::string_view s, bj::error_code& ec) {
    if (number_.empty()) number_.push_back(kNumberMark);
    number_.append(s.data(), s.size());
    if (number_.size() > limits_.max_string) return fail(HandlerError::string_too_long, ec);
    return true;
  }
  bool on_int64(int64_t, bj::string_view s, bj::error_code& ec) { return number(s, ec); }
  bool on_uint64(uint64_t, bj::string_view s, bj::error_code& ec) { return number(s, ec); }
  bool on_double(double, bj::string_view s, bj::error_code& ec) { return number(s, ec); }

  bool on_bool(bool b, bj::error_code&) {
    st_.push_bool(b);
    return true;
  }
  bool on_null(bj::error_code&) {
    st_.push_null();
    return true;
  }
  // Comments are disabled in the parse options; never called.
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

 private:
  struct Level {
    std::vector<std::string> keys;
    std::unordered_set<std::string> set;  // used once an object grows large
  };
  static constexpr size_t kLinearKeys = 16;

  bool number(bj::string_view s, bj::error_code& ec) {
    if (number_.empty()) number_.push_back(kNumberMark);
    number_.append(s.data(), s.size());
    if (number_.size() > limits_.max_string) return fail(HandlerError::string_too_long, ec);
    st_.push_string(number_);
    number_.clear();
    return true;
  }

  // False when `key` was already seen in the innermost open object.
  bool remember_key(const std::string& key) {
    Level& l = levels_[depth_ - 1];
    if (!l.set.empty()) return l.set.insert(key).second;
    for (const auto& k : l.keys)
      if (k == key) return false;
    if (l.keys.size() < kLinearKeys) {
      l.keys.push_back(key);
      return true;
    }
    l.set.insert(l.keys.begin(), l.keys.end());
    return l.set.insert(key).second;
  }

  bool fail(HandlerError e, bj::error_code& ec) {
    error_ = e;
    // Any code will do: the caller reports error_ instead.
    ec = bj::error::test_failure;
    return false;
  }

  const ParseLimits& limits_;
  // Scratch space for value_stack, so that small documents build without
  // allocating the stack itself.
  unsigned char temp_[4096];
  bj::value_stack st_;
  std::vector<Level> levels_;
  size_t depth_ = 0;
  std::string key_;
  std::string number_;
  HandlerError error_ = HandlerError::none;
};

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string describe(const bj::error_code& ec) {
  using E = bj::error;
  if (ec == E::syntax) return "syntax error";
  if (ec == E::incomplete) return std::string(kIncompleteJson);
  if (ec == E::too_deep) return "nesting too deep";
  if (ec == E::exponent_overflow) return "exponent too large";
  if (ec == E::illegal_leading_surrogate || ec == E::illegal_trailing_surrogate ||
      ec == E::expected_utf16_escape)
    return "invalid UTF-16 surrogate escape";
  if (ec == E::expected_hex_digit) return "invalid \\u escape";
  if (ec == E::extra_data) return "trailing data";
  return "invalid JSON";
}

Error parse_error(std::string what, size_t offset) {
  return make_error(Errc::invalid, "malformed JSON at byte " + std::to_string(offset) + ": " + what);
}

// Appends s as a JSON string literal. Input strings are valid UTF-8 (the
// parser checked); only the characters JSON requires are escaped.
void append_escaped(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void write_object(const bj::object& o, std::string& out);

void write(const bj::value& v, std::string& out) {
  switch (v.kind()) {
    case bj::kind::null: out.append("null"); break;
    case bj::kind::bool_: out.append(v.get_bool() ? "true" : "false"); break;
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_: out.append(bj::serialize(v)); break;
    case bj::kind::string: {
      const auto& s = v.get_string();
      if (!s.empty() && s[0] == kNumberMark) out.append(s.data() + 1, s.size() - 1);
      else append_escaped(std::string_view(s.data(), s.size()), out);
      break;
    }
    case bj::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        write(e, out);
      }
      out.push_back(']');
      break;
    }
    case bj::kind::object: write_object(v.get_object(), out); break;
  }
}

void write_object(const bj::object& o, std::string& out) {
  out.push_back('{');
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out.push_back(',');
    first = false;
    append_escaped(std::string_view(kv.key().data(), kv.key().size()), out);
    out.push_back(':');
    write(kv.value(), out);
  }
  out.push_back('}');
}

}  // namespace

Result<bj::value> parse_json(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes)
    return make_error(Errc::too_large,
                      "JSON document is larger than " + std::to_string(limits.max_bytes) + " bytes");
  bj::parse_options opt;
  opt.max_depth = limits.max_depth;
  opt.allow_comments = false;
  opt.allow_trailing_commas = false;
  opt.allow_invalid_utf8 = false;
  try {
    bj::basic_parser<Handler> p(opt, limits);
    bj::error_code ec;
    size_t n = p.write_some(false, text.data(), text.size(), ec);
    if (ec) {
      switch (p.handler().error()) {
        case HandlerError::duplicate_key: return parse_error("duplicate object key", n);
        case HandlerError::array_too_long:
          return parse_error("array has more than " + std::to_string(limits.max_array) + " elements", n);
        case HandlerError::string_too_long:
          return parse_error("string is longer than " + std::to_string(limits.max_string) + " bytes", n);
        case HandlerError::none: break;
      }
      unsigned char at = n < text.size() ? static_cast<unsigned char>(text[n]) : 0;
      if (ec == bj::error::syntax && at >= 0x80)
        return make_error(Errc::invalid, "invalid UTF-8 at byte " + std::to_string(n));
      return parse_error(describe(ec), n);
    }
    for (size_t i = n; i < text.size(); ++i)
      if (!is_json_space(text[i])) return parse_error("trailing data", i);
    return p.handler().stack().release();
  } catch (const std::bad_alloc&) {
    return make_error(Errc::too_large, "JSON document needs too much memory");
  } catch (const std::exception&) {
    // value_stack throws std::length_error past boost::json's size limits.
    return make_error(Errc::too_large, "JSON document exceeds the parser's size limits");
  }
}

std::string serialize(const bj::value& v) {
  std::string out;
  serialize_to(v, out);
  return out;
}

std::string serialize(const bj::object& o) {
  std::string out;
  out.reserve(1024);
  serialize_to(o, out);
  return out;
}

void serialize_to(const bj::value& v, std::string& out) { write(v, out); }

void serialize_to(const bj::object& o, std::string& out) { write_object(o, out); }

bool is_number(const bj::value& v) {
  const auto* s = v.if_string();
  return s && !s->empty() && (*s)[0] == kNumberMark;
}

std::string_view number_text(const bj::value& v) {
  const auto& s = v.get_string();
  return std::string_view(s.data() + 1, s.size() - 1);
}

bj::value make_number(std::string_view text) {
  std::string s;
  s.reserve(text.size() + 1);
  s.push_back(kNumberMark);
  s.append(text);
  return bj::value(bj::string_view(s.data(), s.size()));
}

std::optional<long long> as_integer(const bj::value& v) {
  if (const auto* i = v.if_int64()) return *i;
  if (const auto* u = v.if_uint64()) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<long long>::max())) return std::nullopt;
    return static_cast<long long>(*u);
  }
  if (!is_number(v)) return std::nullopt;
  std::string_view t = number_text(v);
  long long out = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;  // fraction, exponent, overflow
  return out;
}

std::optional<std::string_view> as_string(const bj::value& v) {
  const auto* s = v.if_string();
  if (!s || (!s->empty() && (*s)[0] == kNumberMark)) return std::nullopt;
  return std::string_view(s->data(), s->size());
}

}  // namespace medvault::fhir
