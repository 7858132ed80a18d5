// Redaction tables (docs/access-policy.md, "Redaction").
#include "access/redact.h"

#include <algorithm>
#include <array>
#include <span>
#include <vector>

namespace medvault::access {
namespace {

// Patient as reception and managers see it: identity, contact and
// administrative links; no extensions (clinical or social history), no
// narrative, no photo.
constexpr std::array<std::string_view, 19> kPatientAdministrative = {
    "resourceType", "id",     "meta",     "identifier", "active",       "name",
    "telecom",      "gender", "birthDate", "address",   "maritalStatus", "contact",
    "communication", "generalPractitioner", "managingOrganization", "link", "language",
    "deceasedBoolean", "deceasedDateTime"};
// Appointment without its clinical reason, comments and narrative.
constexpr std::array<std::string_view, 16> kAppointmentAdministrative = {
    "resourceType", "id", "meta", "identifier", "status", "cancelationReason", "serviceCategory",
    "serviceType", "specialty", "appointmentType", "priority", "start", "end", "minutesDuration",
    "slot", "participant"};

struct Rule {
  std::string_view role;
  std::string_view type;
  std::span<const std::string_view> keep;
};
constexpr std::array<Rule, 4> kRules = {{
    {"reception", "Patient", kPatientAdministrative},
    {"reception", "Appointment", kAppointmentAdministrative},
    {"manager", "Patient", kPatientAdministrative},
    {"manager", "Appointment", kAppointmentAdministrative},
}};

const Rule* rule_for(std::string_view role, std::string_view type) {
  for (const auto& r : kRules)
    if (r.role == role && r.type == type) return &r;
  return nullptr;
}

bool kept(const Rule& r, std::string_view key) {
  return std::find(r.keep.begin(), r.keep.end(), key) != r.keep.end();
}

}  // namespace

bool redacts(std::string_view role, std::string_view type) { return rule_for(role, type) != nullptr; }

bool redact(std::string_view role, std::string_view type, boost::json::object& resource) {
  const Rule* r = rule_for(role, type);
  if (!r) return false;
  std::vector<std::string> drop;
  for (const auto& kv : resource)
    if (!kept(*r, std::string_view(kv.key().data(), kv.key().size()))) drop.emplace_back(kv.key());
  for (const auto& k : drop) resource.erase(k);
  return !drop.empty();
}

void keep_hidden(std::string_view role, std::string_view type, const boost::json::object& current,
                 boost::json::object& incoming) {
  const Rule* r = rule_for(role, type);
  if (!r) return;
  redact(role, type, incoming);  // a role writes only what it can see
  for (const auto& kv : current) {
    std::string_view k(kv.key().data(), kv.key().size());
    if (!kept(*r, k)) incoming[kv.key()] = kv.value();
  }
}

}  // namespace medvault::access
