// One audit-log entry, after FHIR AuditEvent / IHE ATNA: who, what, which
// patient, action, purpose of use, explanation, when, from where, outcome.
// Entries hold internal ids only; free-text details are encrypted before they
// reach the entry bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace medvault::audit {

struct Entry {
  int64_t time_ms = 0;
  std::string user;         // account name, "system" at the command line
  std::string role;
  std::string action;       // read, vread, search, create, update, delete, export, login, key-rotate, ...
  std::string type;         // resource type, if any
  std::string id;           // resource logical id, if any
  std::string patient;      // patient logical id whose data was touched, if any
  std::string purpose;      // purpose of use (TREAT, ETREAT, HPAYMT, HOPERAT, PATRQT, ...)
  std::string explanation;  // policy explanation (e.g. "role physician")
  std::string address;      // client address, or "cli"
  std::string workstation;  // workstation id, if known
  std::string outcome;      // "0" success, "4" minor failure, "8" serious failure (ATNA codes)
  std::string detail;       // free text: stored encrypted (base64 of a sealed blob)
  bool flagged = false;     // break-the-glass or other entry the privacy officer must review
};

// Canonical bytes of an entry (compact JSON with a fixed key order), the leaf
// input of the Merkle tree. Deterministic: the same entry always gives the
// same bytes.
std::string canonical(const Entry& e);

// The strict inverse of canonical(): accepts exactly the bytes canonical()
// can produce (same key order, same escapes, no whitespace), so that
// canonical(parse) == bytes whenever it succeeds. Fills `out`, reusing its
// strings' capacity (the verifier parses millions of entries). Errc::integrity
// on anything else, with a reason that never quotes the input.
Status parse_canonical(std::string_view bytes, Entry& out);

}  // namespace medvault::audit
