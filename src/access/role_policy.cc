// The default policy (docs/access-policy.md): the role matrix, then purpose
// of use, then for patient data sensitivity labels, care relationships and
// consent directives, with break-the-glass as the audited way past the last
// three.
#include <algorithm>
#include <array>

#include "access/facts.h"
#include "access/policy.h"
#include "common/clock.h"

namespace medvault::access {
namespace {

constexpr std::array<std::string_view, 7> kPurposes = {"TREAT",  "ETREAT",  "HPAYMT", "HOPERAT",
                                                       "PATRQT", "PUBHLTH", "HRESCH"};
// Shared, non-patient resources everyone on staff may look up.
constexpr std::array<std::string_view, 5> kDirectoryTypes = {
    "Location", "Medication", "Organization", "Practitioner", "PractitionerRole"};
// Patient-compartment resources that are administrative, not clinical.
constexpr std::array<std::string_view, 2> kAdministrativeTypes = {"Appointment", "Patient"};
// The front desk records the patient's consent directives (not the manager).
constexpr std::array<std::string_view, 1> kReceptionPatientTypes = {"Consent"};
// Prescribing is the physician's.
constexpr std::array<std::string_view, 1> kPhysicianOnlyWrites = {"MedicationRequest"};

struct RolePurposes {
  std::string_view role;
  std::array<std::string_view, 4> purposes;
};
constexpr std::array<RolePurposes, 5> kRolePurposes = {{
    {"physician", {"TREAT", "ETREAT", "HOPERAT", "PATRQT"}},
    {"nurse", {"TREAT", "ETREAT", "HOPERAT", "PATRQT"}},
    {"reception", {"TREAT", "HOPERAT", "HPAYMT", "PATRQT"}},
    {"manager", {"HOPERAT", "HPAYMT", "", ""}},
    {"patient", {"PATRQT", "TREAT", "", ""}},
}};

bool in(std::string_view v, auto const& list) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

bool is_read(Action a) {
  return a == Action::read || a == Action::vread || a == Action::search || a == Action::history ||
         a == Action::everything;
}
bool is_write(Action a) {
  return a == Action::create || a == Action::update || a == Action::remove ||
         a == Action::transaction;
}

bool purpose_allowed(std::string_view role, std::string_view purpose) {
  for (const auto& rp : kRolePurposes)
    if (rp.role == role) return in(purpose, rp.purposes);
  return true;  // service, system: any known purpose
}

// SMART v2 system scopes: "system/<Type|*>.<c r u d s>" (v1 ".read"/".write"
// are accepted too).
bool scope_allows(const std::vector<std::string>& scopes, Action a, std::string_view type) {
  char need;
  switch (a) {
    case Action::create: need = 'c'; break;
    case Action::read: case Action::vread: case Action::history: case Action::everything: need = 'r'; break;
    case Action::update: case Action::transaction: need = 'u'; break;
    case Action::remove: need = 'd'; break;
    case Action::search: need = 's'; break;
    default: return false;
  }
  for (const auto& s : scopes) {
    if (s.rfind("system/", 0) != 0) continue;
    auto dot = s.find('.', 7);
    if (dot == std::string::npos) continue;
    std::string_view t(s.data() + 7, dot - 7);
    std::string_view perms(s.data() + dot + 1, s.size() - dot - 1);
    if (t != "*" && t != type) continue;
    if (perms == "read") perms = "rs";
    if (perms == "write") perms = "cud";
    if (perms == "*") return true;
    if (perms.find(need) != std::string_view::npos) return true;
  }
  return false;
}

Decision deny(std::string why, bool breakable = false) { return {false, std::move(why), false, breakable}; }

// The role matrix alone (docs/architecture.md, "Roles"): may this role do
// this action on this type at all?
Decision role_matrix(const Subject& who, Action a, const Target& t) {
  const std::string& role = who.role;
  if (a == Action::export_all || a == Action::import) return deny("export and import need the administrator");
  const bool directory = in(t.type, kDirectoryTypes);
  const bool administrative = in(t.type, kAdministrativeTypes);
  if (role == "physician" || role == "nurse") {
    if (role == "nurse" && is_write(a) && in(t.type, kPhysicianOnlyWrites))
      return deny("prescribing is for physicians");
    return {true, "role " + role};
  }
  if (role == "reception") {
    if ((is_read(a) && a != Action::everything) || is_write(a))
      if (administrative || directory || in(t.type, kReceptionPatientTypes))
        return {true, "role reception (administrative data)"};
    return deny("reception has no access to clinical data");
  }
  if (role == "manager") {
    if (is_read(a) && a != Action::everything && (directory || t.type == "Appointment"))
      return {true, "role manager (directory and schedule)"};
    return deny("manager has no access to patient records");
  }
  if (role == "service") {
    if (scope_allows(who.scopes, a, t.type)) return {true, "service scope"};
    return deny("no scope for this action");
  }
  if (role == "patient") {
    if (is_read(a) && (administrative || directory || is_clinical_type(t.type)))
      return {true, "own record"};
    return deny("patients read their own record only");
  }
  // it-admin and auditor see no clinical content (separation of duties).
  return deny("role " + role + " has no access to patient records");
}

bool within(int64_t now, int64_t from, int64_t to) { return from <= now && now <= to; }

bool actor_matches(const Subject& who, const std::string& ref) {
  return (!who.practitioner.empty() && ref == who.practitioner) ||
         (!who.organization.empty() && ref == who.organization);
}

// The relationship that explains this subject's access now, if any.
const Relationship* relationship_for(const Subject& who, const PatientFacts* facts, int64_t now) {
  if (!facts) return nullptr;
  for (const auto& r : facts->relationships)
    if (within(now, r.from_ms, r.to_ms) && actor_matches(who, r.actor)) return &r;
  return nullptr;
}

bool any_of_in(const std::vector<std::string>& wanted, const std::vector<std::string>& have) {
  for (const auto& w : wanted)
    if (in(w, have)) return true;
  return false;
}

bool rule_matches(const ConsentRule& r, const Subject& who, std::string_view purpose,
                  const std::vector<std::string>& labels, int64_t now) {
  if (!within(now, r.from_ms, r.to_ms)) return false;
  if (!r.actors.empty() || !r.roles.empty()) {
    bool hit = in(who.role, r.roles);
    for (const auto& a : r.actors) hit = hit || actor_matches(who, a);
    if (!hit) return false;
  }
  if (!r.purposes.empty() && !in(purpose, r.purposes)) return false;
  if (!r.labels.empty() && !any_of_in(r.labels, labels)) return false;
  return true;
}

// The first consent directive that refuses this access, or nullptr. Per
// directive the nested provisions are exceptions to the base: the first
// matching one decides, otherwise the base does if it matches. Any refusal
// wins over any permit (directives only ever restrict the role matrix).
const ConsentDirective* consent_denial(const Subject& who, const PatientFacts* facts,
                                       std::string_view purpose, const std::vector<std::string>& labels,
                                       int64_t now) {
  if (!facts) return nullptr;
  for (const auto& d : facts->consents) {
    const ConsentRule* hit = nullptr;
    for (const auto& ex : d.exceptions)
      if (rule_matches(ex, who, purpose, labels, now)) {
        hit = &ex;
        break;
      }
    if (!hit && rule_matches(d.base, who, purpose, labels, now)) hit = &d.base;
    if (hit && hit->deny) return &d;
  }
  return nullptr;
}

bool granted(const Subject& who, std::string_view label) {
  return in("*", who.grants) || in(label, who.grants);
}

// A relationship-establishing resource being written that names the writer
// (a new Encounter or Appointment with the clinician as participant).
bool establishes_own_relationship(const Subject& who, const Target& t) {
  if (!t.resource || !is_relationship_type(t.type) || t.type == "Patient") return false;
  std::vector<Relationship> rs;
  relationships_of(t.type, t.id, *t.resource, rs);
  for (const auto& r : rs)
    if (actor_matches(who, r.actor)) return true;
  return false;
}

class DefaultPolicy final : public Policy {
 public:
  explicit DefaultPolicy(Settings s) : settings_(s) {}

  Decision decide(const Subject& who, Action a, const Target& t, std::string_view purpose) const override {
    if (!is_known_purpose(purpose)) return deny("unknown purpose of use");
    std::vector<std::string> labels;
    if (t.resource) labels = security_labels(*t.resource);

    if (who.role == "system") {
      // The local administrator holds the master key; only a patient's
      // refusal of a purpose (e.g. research) is honoured on export.
      if (a == Action::export_all && !t.patient.empty())
        if (auto* c = consent_denial(who, t.facts, purpose, labels, t.now_ms))
          return deny("refused by " + c->source);
      return {true, "local administrator (unsealed vault)"};
    }
    if (!purpose_allowed(who.role, purpose)) return deny("purpose " + std::string(purpose) + " not allowed for role " + who.role);

    Decision d = role_matrix(who, a, t);
    if (!d.permit || t.patient.empty()) {
      if (d.permit && purpose == "ETREAT") return deny("emergency treatment needs a break-the-glass grant", true);
      return d;
    }

    if (who.role == "patient") {
      if (who.patient.empty() || t.patient != who.patient) return deny("not the patient's own record");
      return {true, "own record"};
    }

    // Patient data: every obstacle below can be passed by break-the-glass.
    const bool clinician = who.role == "physician" || who.role == "nurse";
    std::string blocker;
    bool consent_blocked = false;
    std::string granted_labels;
    for (const auto& l : labels) {
      if (!is_restricted_label(l)) continue;
      if (granted(who, l)) {
        granted_labels += granted_labels.empty() ? "; grant " : ",";
        granted_labels += l;
      } else if (blocker.empty()) {
        blocker = "sensitivity label " + l + " needs a grant";
      }
    }
    const Relationship* rel = nullptr;
    if (clinician && is_clinical_type(t.type)) {
      rel = relationship_for(who, t.facts, t.now_ms);
      if (!rel && !(is_write(a) && establishes_own_relationship(who, t)) && blocker.empty())
        blocker = "no care relationship";
    }
    if (auto* c = consent_denial(who, t.facts, purpose, labels, t.now_ms)) {
      if (blocker.empty()) blocker = "refused by " + c->source;
      consent_blocked = true;
    }
    if (purpose == "ETREAT" && blocker.empty()) blocker = "emergency treatment needs a break-the-glass grant";

    if (blocker.empty()) {
      if (rel) d.explanation = std::string(relationship_name(rel->kind)) + " " + rel->source;
      d.explanation += granted_labels;
      return d;
    }
    if (!clinician) return deny(std::move(blocker));
    if (t.grant && t.grant->until_ms > t.now_ms && !(consent_blocked && settings_.consent_blocks_emergency)) {
      Decision g{true, "break-the-glass grant until " + format_instant(t.grant->until_ms), true, false};
      if (!t.grant->note.empty()) g.explanation += " (" + t.grant->note + ")";
      g.explanation += " past: " + blocker;
      return g;
    }
    return deny(std::move(blocker), !(consent_blocked && settings_.consent_blocks_emergency));
  }

 private:
  Settings settings_;
};

}  // namespace

std::string_view action_name(Action a) {
  switch (a) {
    case Action::read: return "read";
    case Action::vread: return "vread";
    case Action::search: return "search";
    case Action::history: return "history";
    case Action::create: return "create";
    case Action::update: return "update";
    case Action::remove: return "delete";
    case Action::everything: return "everything";
    case Action::export_all: return "export";
    case Action::transaction: return "transaction";
    case Action::import: return "import";
  }
  return "unknown";
}

std::string_view relationship_name(RelationshipKind k) {
  switch (k) {
    case RelationshipKind::general_practitioner: return "general-practitioner";
    case RelationshipKind::care_team: return "care-team";
    case RelationshipKind::appointment: return "appointment";
    case RelationshipKind::referral: return "referral";
    case RelationshipKind::encounter: return "encounter";
    case RelationshipKind::episode_of_care: return "episode-of-care";
  }
  return "relationship";
}

bool is_known_purpose(std::string_view code) { return in(code, kPurposes); }

bool is_staff_role(std::string_view role) {
  return std::find(std::begin(kStaffRoles), std::end(kStaffRoles), role) != std::end(kStaffRoles);
}

std::string_view default_purpose(std::string_view role) { return role == "manager" ? "HOPERAT" : "TREAT"; }

bool is_clinical_type(std::string_view type) {
  return !in(type, kDirectoryTypes) && !in(type, kAdministrativeTypes);
}

// Mirrors the one use of relationships in DefaultPolicy::decide.
bool needs_relationships(const Subject& who, const Target& t) {
  return (who.role == "physician" || who.role == "nurse") && is_clinical_type(t.type);
}

std::unique_ptr<Policy> make_policy(Settings settings) { return std::make_unique<DefaultPolicy>(settings); }
std::unique_ptr<Policy> make_role_policy() { return make_policy({}); }

}  // namespace medvault::access
