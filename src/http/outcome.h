// OperationOutcome and the one translation of an Error to an HTTP response
// (status from the catalogue in common/errors.h, issue code, diagnostics,
// expression).
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "http/message.h"

namespace medvault::http {

inline constexpr std::string_view kFhirJson = "application/fhir+json; charset=utf-8";

struct Issue {
  std::string severity = "error";  // fatal | error | warning | information
  std::string code;                // FHIR issue type code
  std::string diagnostics;
  std::string expression;          // FHIRPath of the problem, optional
};

boost::json::object operation_outcome(const std::vector<Issue>& issues);

// The issue for an error. Server-side failures (5xx) do not carry the
// internal message: the caller gets a generic text with the request id, the
// log gets the message.
Issue issue_for(const Error& e, std::string_view request_id);

int http_status(Errc code);

// The HTTP reason phrase for a status ("Not Found").
std::string_view reason_phrase(int status);

// A complete error response: status, OperationOutcome body, content type;
// 401 also carries WWW-Authenticate. Server-side errors (5xx) are logged
// with the request id.
Response error_response(const Error& e, std::string_view request_id);

// A JSON string literal (quoted and escaped) for hand-assembled documents.
std::string json_quote(std::string_view s);

}  // namespace medvault::http
