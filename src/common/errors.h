// The one error catalogue: every error code with its HTTP status and FHIR
// OperationOutcome issue code. Errors are translated once, at the HTTP edge
// (http/) or at the command line (cli/), from this table.
#pragma once

#include <string_view>

namespace medvault {

enum class Errc {
  invalid,            // malformed input (JSON, UTF-8, parameters)
  unprocessable,      // well-formed but fails structural validation
  not_found,
  gone,               // deleted
  conflict,           // version conflict, duplicate id
  precondition_failed,  // If-Match mismatch
  too_large,
  unsupported_media,
  unauthenticated,
  forbidden,
  throttled,          // too many failed sign-ins: wait (Retry-After)
  integrity,          // ciphertext or audit chain failed verification
  sealed,             // wrong passphrase / key file / shares, or corrupt sealed key
  io,                 // file system or database failure
  unavailable,        // audit log cannot be written: fail closed
  internal,
};

struct ErrorInfo {
  Errc code;
  std::string_view name;
  int http_status;
  std::string_view fhir_issue_code;  // OperationOutcome.issue.code
  int exit_code;                     // process exit code for the CLI
};

constexpr ErrorInfo kErrorCatalogue[] = {
    {Errc::invalid, "invalid", 400, "invalid", 2},
    {Errc::unprocessable, "unprocessable", 422, "structure", 2},
    {Errc::not_found, "not-found", 404, "not-found", 3},
    {Errc::gone, "gone", 410, "deleted", 3},
    {Errc::conflict, "conflict", 409, "conflict", 4},
    {Errc::precondition_failed, "precondition-failed", 412, "conflict", 4},
    {Errc::too_large, "too-large", 413, "too-costly", 2},
    {Errc::unsupported_media, "unsupported-media-type", 415, "not-supported", 2},
    {Errc::unauthenticated, "unauthenticated", 401, "login", 5},
    {Errc::forbidden, "forbidden", 403, "forbidden", 5},
    {Errc::throttled, "throttled", 429, "throttled", 5},
    {Errc::integrity, "integrity", 500, "exception", 6},
    {Errc::sealed, "sealed", 401, "security", 7},
    {Errc::io, "io", 500, "exception", 8},
    {Errc::unavailable, "unavailable", 503, "transient", 9},
    {Errc::internal, "internal", 500, "exception", 10},
};

constexpr const ErrorInfo& error_info(Errc code) {
  for (const auto& e : kErrorCatalogue)
    if (e.code == code) return e;
  return kErrorCatalogue[sizeof(kErrorCatalogue) / sizeof(kErrorCatalogue[0]) - 1];
}

}  // namespace medvault
