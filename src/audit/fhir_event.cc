#include "audit/fhir_event.h"

#include <boost/json.hpp>

#include "common/clock.h"

namespace medvault::audit {
namespace {

namespace json = boost::json;

constexpr const char* kDcm = "http://dicom.nema.org/resources/ontology/DCM";
constexpr const char* kEventType = "http://terminology.hl7.org/CodeSystem/audit-event-type";
constexpr const char* kRestful = "http://hl7.org/fhir/restful-interaction";
constexpr const char* kActionSystem = "https://medvault.local/fhir/CodeSystem/audit-action";
constexpr const char* kRoleSystem = "https://medvault.local/fhir/CodeSystem/role";
constexpr const char* kUserSystem = "https://medvault.local/fhir/NamingSystem/user";
constexpr const char* kEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
constexpr const char* kObjectRole = "http://terminology.hl7.org/CodeSystem/object-role";
constexpr const char* kActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
constexpr const char* kSourceType = "http://terminology.hl7.org/CodeSystem/security-source-type";

json::object coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  json::object c{{"system", system}, {"code", code}};
  if (!display.empty()) c["display"] = display;
  return c;
}

json::object codeable(json::object c) { return {{"coding", json::array{std::move(c)}}}; }

struct TypeCode {
  json::object type;
  std::string_view rest;  // RESTful interaction code, if the action is one
  const char* crud;       // AuditEvent.action
};

TypeCode type_of(std::string_view a) {
  auto rest = [](std::string_view code, const char* crud) {
    return TypeCode{coding(kEventType, "rest", "RESTful Operation"), code, crud};
  };
  if (a == "read") return rest("read", "R");
  if (a == "vread") return rest("vread", "R");
  if (a == "history") return rest("history", "R");
  if (a == "search") return rest("search", "E");
  if (a == "create") return rest("create", "C");
  if (a == "update") return rest("update", "U");
  if (a == "delete") return rest("delete", "D");
  if (a == "everything") return rest("operation", "E");
  if (a == "export") return {coding(kDcm, "110106", "Export"), {}, "R"};
  if (a == "import") return {coding(kDcm, "110107", "Import"), {}, "C"};
  if (a == "authenticate" || a == "login" || a == "login-throttled" || a == "logout" || a == "logout-all")
    return {coding(kDcm, "110114", "User Authentication"), {}, "E"};
  if (a.starts_with("audit-")) return {coding(kDcm, "110101", "Audit Log Used"), {}, "R"};
  return {coding(kDcm, "110113", "Security Alert"), {}, "E"};
}

}  // namespace

std::string to_audit_event(uint64_t seq, const Entry& e, std::string_view origin,
                           std::string_view detail) {
  const TypeCode t = type_of(e.action);
  json::object ev;
  ev["resourceType"] = "AuditEvent";
  ev["id"] = "audit-" + std::to_string(seq);
  if (e.flagged)
    ev["meta"] = json::object{
        {"tag", json::array{coding(kActionSystem, "review", "privacy officer review")}}};
  ev["type"] = t.type;
  json::array subtype;
  if (!t.rest.empty()) subtype.push_back(coding(kRestful, t.rest));
  subtype.push_back(coding(kActionSystem, e.action));
  ev["subtype"] = std::move(subtype);
  ev["action"] = t.crud;
  ev["recorded"] = format_instant(e.time_ms);
  // ATNA outcome codes are FHIR's: 0, 4, 8, 12.
  ev["outcome"] = e.outcome.empty() ? "0" : e.outcome;
  if (!e.explanation.empty()) ev["outcomeDesc"] = e.explanation;
  if (!e.purpose.empty())
    ev["purposeOfEvent"] = json::array{codeable(coding(kActReason, e.purpose))};

  json::object agent;
  if (!e.role.empty()) agent["role"] = json::array{codeable(coding(kRoleSystem, e.role))};
  // A failed authentication may name no account (no or unknown token): FHIR
  // strings cannot be empty, so the agent is then only its network address.
  if (!e.user.empty())
    agent["who"] = json::object{{"identifier", json::object{{"system", kUserSystem}, {"value", e.user}}},
                                {"display", e.user}};
  else
    agent["who"] = json::object{{"display", "unidentified client"}};
  if (!e.workstation.empty()) agent["altId"] = e.workstation;
  agent["requestor"] = true;
  if (!e.address.empty() && e.address != "cli")
    agent["network"] = json::object{{"address", e.address}, {"type", "2"}};  // 2: IP address
  else
    agent["network"] = json::object{{"address", "localhost"}, {"type", "1"}};  // 1: machine name
  ev["agent"] = json::array{std::move(agent)};

  ev["source"] = json::object{
      {"site", origin},
      {"observer", json::object{{"display", origin}}},
      {"type", json::array{coding(kSourceType, "4", "Application Server")}}};

  json::array entities;
  if (!e.patient.empty())
    entities.push_back(json::object{
        {"what", json::object{{"reference", "Patient/" + e.patient}}},
        {"type", coding(kEntityType, "1", "Person")},
        {"role", coding(kObjectRole, "1", "Patient")}});
  if (!e.type.empty() && !(e.type == "Patient" && e.id == e.patient && !e.id.empty())) {
    json::object what;
    if (!e.id.empty()) what["reference"] = e.type + "/" + e.id;
    else what["type"] = e.type;
    entities.push_back(json::object{{"what", std::move(what)},
                                    {"type", coding(kEntityType, "2", "System Object")},
                                    {"role", coding(kObjectRole, "4", "Domain Resource")}});
  }
  if (!detail.empty())
    entities.push_back(json::object{
        {"type", coding(kEntityType, "4", "Other")},
        {"description", "medvault audit detail"},
        {"detail", json::array{json::object{{"type", "detail"}, {"valueString", detail}}}}});
  if (!entities.empty()) ev["entity"] = std::move(entities);
  return json::serialize(ev);
}

}  // namespace medvault::audit
