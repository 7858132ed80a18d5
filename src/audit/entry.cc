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

}  // namespace medvault::audit
