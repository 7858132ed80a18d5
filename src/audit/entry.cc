#include "audit/entry.h"

#include <cstdio>

namespace medvault::audit {
namespace {

void put_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void field(std::string& out, const char* name, const std::string& value) {
  out += ",\"";
  out += name;
  out += "\":";
  put_string(out, value);
}

}  // namespace

std::string canonical(const Entry& e) {
  std::string out;
  out.reserve(256);
  out += "{\"v\":1,\"time\":";
  out += std::to_string(e.time_ms);
  field(out, "user", e.user);
  field(out, "role", e.role);
  field(out, "action", e.action);
  field(out, "type", e.type);
  field(out, "id", e.id);
  field(out, "patient", e.patient);
  field(out, "purpose", e.purpose);
  field(out, "explanation", e.explanation);
  field(out, "address", e.address);
  field(out, "workstation", e.workstation);
  field(out, "outcome", e.outcome);
  field(out, "detail", e.detail);
  out += ",\"flagged\":";
  out += e.flagged ? "true" : "false";
  out += '}';
  return out;
}

namespace {

// A cursor over canonical entry bytes; every step either consumes exactly
// what canonical() writes or fails.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool lit(std::string_view x) {
    if (s_.substr(pos_, x.size()) != x) return false;
    pos_ += x.size();
    return true;
  }

  // A string as put_string() writes it.
  bool str(std::string& out) {
    out.clear();
    if (!lit("\"")) return false;
    while (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;  // control characters are always escaped
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      switch (s_[pos_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          // Only \u00XX (lower-case hex) for a control character other than
          // the three with short escapes.
          if (!lit("00") || pos_ + 2 > s_.size()) return false;
          int v = 0;
          for (int i = 0; i < 2; ++i) {
            const char h = s_[pos_++];
            if (h >= '0' && h <= '9') v = v * 16 + (h - '0');
            else if (h >= 'a' && h <= 'f') v = v * 16 + (h - 'a' + 10);
            else return false;
          }
          if (v >= 0x20 || v == '\n' || v == '\r' || v == '\t') return false;
          out += static_cast<char>(v);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  // A decimal int64 as std::to_string writes it.
  bool integer(int64_t& out) {
    const size_t start = pos_;
    bool neg = lit("-");
    uint64_t v = 0;
    size_t digits = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const uint64_t d = static_cast<uint64_t>(s_[pos_] - '0');
      if (v > (UINT64_MAX - d) / 10) return false;
      v = v * 10 + d;
      ++pos_;
      ++digits;
    }
    if (digits == 0 || (digits > 1 && s_[start + (neg ? 1 : 0)] == '0')) return false;
    if (neg && v == 0) return false;
    if (!neg && v > static_cast<uint64_t>(INT64_MAX)) return false;
    if (neg && v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    out = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    return true;
  }

  bool field(const char* name, std::string& out) {
    return lit(",\"") && lit(name) && lit("\":") && str(out);
  }

  bool at_end() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Status parse_canonical(std::string_view bytes, Entry& e) {
  Reader r(bytes);
  bool ok = r.lit("{\"v\":1,\"time\":") && r.integer(e.time_ms) && r.field("user", e.user) &&
            r.field("role", e.role) && r.field("action", e.action) && r.field("type", e.type) &&
            r.field("id", e.id) && r.field("patient", e.patient) &&
            r.field("purpose", e.purpose) && r.field("explanation", e.explanation) &&
            r.field("address", e.address) && r.field("workstation", e.workstation) &&
            r.field("outcome", e.outcome) && r.field("detail", e.detail) &&
            r.lit(",\"flagged\":");
  if (ok) {
    if (r.lit("true")) e.flagged = true;
    else if (r.lit("false")) e.flagged = false;
    else ok = false;
  }
  if (!ok || !r.lit("}") || !r.at_end())
    return make_error(Errc::integrity, "not a canonical audit entry");
  return ok_status();
}

}  // namespace medvault::audit
