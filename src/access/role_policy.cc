// The default role matrix of the vault core (docs/architecture.md, "Roles").
// The access-policy issue adds care relationships, sensitivity labels,
// consent directives and break-the-glass on top of it.
#include <algorithm>
#include <array>

#include "access/policy.h"

namespace medvault::access {
namespace {

constexpr std::array<std::string_view, 5> kAdministrativeTypes = {
    "Patient", "Appointment", "Practitioner", "PractitionerRole", "Organization"};
constexpr std::array<std::string_view, 4> kDirectoryTypes = {
    "Practitioner", "PractitionerRole", "Organization", "Location"};

bool in(std::string_view v, auto const& list) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

bool is_read(Action a) {
  return a == Action::read || a == Action::vread || a == Action::search || a == Action::history;
}
bool is_write(Action a) {
  return a == Action::create || a == Action::update || a == Action::remove ||
         a == Action::transaction;
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

class RolePolicy final : public Policy {
 public:
  Decision decide(const Subject& who, Action a, const Target& t,
                  std::string_view /*purpose*/) const override {
    const std::string& role = who.role;
    if (role == "system") return {true, "local administrator (unsealed vault)"};
    if (role == "physician" || role == "nurse") {
      if (a == Action::export_all || a == Action::import) return {false, "export needs the administrator"};
      return {true, "role " + role};
    }
    if (role == "reception") {
      if ((is_read(a) || is_write(a)) && in(t.type, kAdministrativeTypes))
        return {true, "role reception (administrative data)"};
      return {false, "reception has no access to clinical data"};
    }
    if (role == "manager") {
      if (is_read(a) && (in(t.type, kDirectoryTypes) || t.type == "Appointment"))
        return {true, "role manager (directory and schedule)"};
      return {false, "manager has no access to patient records"};
    }
    if (role == "service") {
      if (scope_allows(who.scopes, a, t.type)) return {true, "service scope"};
      return {false, "no scope for this action"};
    }
    // it-admin and auditor see no clinical content; patient access comes with
    // the portal (own compartment only).
    return {false, "role " + role + " has no access to patient records"};
  }
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

std::unique_ptr<Policy> make_role_policy() { return std::make_unique<RolePolicy>(); }

}  // namespace medvault::access
