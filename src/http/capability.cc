// The CapabilityStatement at /fhir/metadata, derived from what the code
// supports (fhir::supported_types, fhir::search_params) so it cannot drift.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "common/clock.h"
#include "fhir/resource.h"
#include "fhir/search.h"
#include "http/fhir_handlers.h"

namespace medvault::http {

namespace json = boost::json;

namespace {

json::array codes(std::initializer_list<std::string_view> list) {
  json::array out;
  for (auto c : list) out.push_back(json::object{{"code", c}});
  return out;
}

std::string build() {
  json::array resources;
  for (std::string_view type : fhir::supported_types()) {
    json::object r;
    r["type"] = type;
    r["versioning"] = "versioned";
    r["readHistory"] = true;
    r["updateCreate"] = true;
    r["conditionalCreate"] = false;
    r["conditionalRead"] = "not-supported";
    r["conditionalUpdate"] = false;
    r["conditionalDelete"] = "not-supported";
    r["interaction"] = codes({"read", "vread", "update", "delete", "history-instance", "history-type", "create",
                              "search-type"});
    json::array params;
    for (const auto& name : fhir::search_params(type)) {
      // _count, _offset, _sort, _summary, _total are result parameters, listed below.
      if (name.starts_with("_") && name != "_id" && name != "_lastUpdated") continue;
      params.push_back(json::object{{"name", name}, {"type", fhir::search_param_type(type, name)}});
    }
    if (!params.empty()) r["searchParam"] = std::move(params);
    if (type == "Patient")
      r["operation"] = json::array{json::object{
          {"name", "everything"}, {"definition", "http://hl7.org/fhir/OperationDefinition/Patient-everything"}}};
    resources.push_back(std::move(r));
  }

  json::object rest;
  rest["mode"] = "server";
  rest["documentation"] =
      "Search result parameters: _count (max 1000), _offset (paging), _sort=_lastUpdated or -_lastUpdated, "
      "_summary=count, _total=none|estimate|accurate (Bundle.total is given when asked with accurate, or when "
      "the results ended within the page; estimate is treated as the default). "
      "Prefer: handling=strict|lenient (default lenient). History: _count, _since. "
      "Transactions are atomic; urn:uuid: references are resolved; conditional operations are not supported.";
  rest["security"] = json::object{
      {"cors", false},
      {"description", "TLS 1.2+ only. Every request but /metadata needs Authorization: Bearer <token> "
                      "(medvault token issue). Access is decided by role and audited."}};
  rest["resource"] = std::move(resources);
  rest["interaction"] = codes({"transaction", "batch", "history-system"});

  json::object cs;
  cs["resourceType"] = "CapabilityStatement";
  cs["status"] = "active";
  cs["date"] = format_instant(SystemClock::instance().now_ms());
  cs["publisher"] = "medvault";
  cs["kind"] = "instance";
  cs["software"] = json::object{{"name", "medvault"}};
  cs["implementation"] = json::object{{"description", "medvault FHIR R4 server"}};
  cs["fhirVersion"] = "4.0.1";
  cs["format"] = json::array{"application/fhir+json", "json"};
  cs["rest"] = json::array{std::move(rest)};
  return json::serialize(cs);
}

}  // namespace

const std::string& capability_statement() {
  static const std::string s = build();
  return s;
}

}  // namespace medvault::http
