// The FHIR R4 interactions at /fhir: one function per interaction, each
// turning an authenticated request into repository calls and a response.
// Beast-free; errors become OperationOutcome responses through outcome.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "fhir/json.h"
#include "http/message.h"
#include "http/router.h"
#include "vault/repository.h"

namespace medvault::http {

// The Prefer header (RFC 7240) as FHIR uses it.
struct Prefer {
  enum class Return { representation, minimal, outcome } ret = Return::representation;
  bool strict = false;  // handling=strict (default lenient)
  bool return_given = false;  // a return= preference was sent
};
Prefer parse_prefer(std::string_view header);

// One FHIR call: the request, its parsed target and route, who asks.
struct FhirCall {
  vault::Repository& repo;
  const vault::RequestContext& ctx;
  const Request& req;
  const Target& target;
  const Route& route;
  std::string base;  // absolute base URL, "https://host:port/fhir"
  fhir::ParseLimits limits;
  Prefer prefer;
  bool in_bundle = false;  // an entry of a batch/transaction: no nested bundles
};

// Dispatches on call.route.kind (every /fhir kind but metadata).
Response handle_fhir(const FhirCall& call);

// Transaction and batch Bundles (bundle.cc).
Response handle_bundle(const FhirCall& call);

// Replaces, in every Reference.reference of v, a urn:uuid: value that is a key
// of `ids` by its mapped "Type/id". Errc::invalid (path in Error::path, below
// `path`) for a urn:uuid: reference that is not in the map: a transaction must
// not store a dangling reference.
Status rewrite_references(boost::json::value& v, const std::unordered_map<std::string, std::string>& ids,
                          const std::string& path);

// The CapabilityStatement (capability.cc), built once.
const std::string& capability_statement();

// Helpers shared by the handlers, exposed for tests.
Result<uint64_t> parse_version(std::string_view s);                 // "1".."18446744073709551615"
Result<size_t> parse_count(std::string_view s);                     // "0", "20"
Result<std::optional<uint64_t>> parse_if_match(std::string_view h);  // W/"3", "3"; empty: none
Result<int64_t> parse_instant(std::string_view s);                  // FHIR instant/dateTime/date -> ms
std::string http_date(int64_t ms);                                  // IMF-fixdate
std::string etag(uint64_t version);                                 // W/"3"
// Errc::unsupported_media unless the media type is application/fhir+json or
// application/json (charset, if given, utf-8).
Status check_json_content_type(std::string_view content_type);
// Errc::unsupported_media when the client asks only for formats other than JSON
// (Accept header, _format parameter).
Status check_accept(std::string_view accept, std::optional<std::string_view> format_param);
// Errc::not_found for a type that is not R4 or not stored here.
Status check_type(std::string_view type);
Status check_id(std::string_view id);
std::string new_uuid();  // random version-4 UUID, lower case

}  // namespace medvault::http
