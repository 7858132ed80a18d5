#include "http/outcome.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "http/log.h"

namespace medvault::http {

namespace json = boost::json;

json::object operation_outcome(const std::vector<Issue>& issues) {
  json::array arr;
  for (const auto& i : issues) {
    json::object o;
    o["severity"] = i.severity;
    o["code"] = i.code;
    if (!i.diagnostics.empty()) o["diagnostics"] = i.diagnostics;
    if (!i.expression.empty()) o["expression"] = json::array{json::string(i.expression)};
    arr.push_back(std::move(o));
  }
  json::object out;
  out["resourceType"] = "OperationOutcome";
  out["issue"] = std::move(arr);
  return out;
}

int http_status(Errc code) { return error_info(code).http_status; }

Issue issue_for(const Error& e, std::string_view request_id) {
  const ErrorInfo& info = error_info(e.code);
  Issue i;
  i.severity = info.http_status >= 500 ? "fatal" : "error";
  i.code = std::string(info.fhir_issue_code);
  if (info.http_status >= 500) {
    i.diagnostics = std::string(info.http_status == 503 ? "service unavailable" : "internal error") +
                    " (request id " + std::string(request_id) + ")";
  } else {
    i.diagnostics = e.message;
    i.expression = e.path;
  }
  return i;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

Response error_response(const Error& e, std::string_view request_id) {
  Response r;
  r.status = http_status(e.code);
  if (r.status >= 500)  // the caller sees only the request id; the log keeps the reason
    log::event(log::Level::error, {{"event", "error"},
                                   {"request_id", request_id},
                                   {"code", error_info(e.code).name},
                                   {"message", e.message}});
  r.body = json::serialize(operation_outcome({issue_for(e, request_id)}));
  r.set("Content-Type", std::string(kFhirJson));
  if (e.code == Errc::unauthenticated || e.code == Errc::sealed)
    r.set("WWW-Authenticate", "Bearer realm=\"medvault\", error=\"invalid_token\"");
  return r;
}

std::string json_quote(std::string_view s) { return json::serialize(json::string(s)); }

}  // namespace medvault::http
