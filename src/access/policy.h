// The policy decision point. Every request that reaches patient data asks it
// through the repository facade (vault/repository.h); nothing else decides.
// The access-policy issue fills in roles, care relationships, sensitivity,
// consent and break-the-glass; the vault core ships the role table below.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace medvault::access {

// Who is asking. `role` is one of the documented role names (physician,
// nurse, reception, manager, it-admin, auditor, patient, service) or "system"
// for the local administrator at the command line (init, import, export,
// key rotation), who holds the unsealed master key anyway.
struct Subject {
  std::string user;
  std::string role;
  std::vector<std::string> scopes;  // SMART-style, for service accounts
};

enum class Action {
  read, vread, search, history, create, update, remove, everything, export_all,
  transaction, import,
};
std::string_view action_name(Action a);

// What is being accessed.
struct Target {
  std::string type;
  std::string id;
  std::string patient;  // compartment patient id, "" for shared resources
  const boost::json::object* resource = nullptr;  // when known (after decryption / before write)
};

struct Decision {
  bool permit = false;
  // Why: for a permit, the explanation stored with the audit entry (e.g.
  // "role physician"); for a denial, the reason (logged, never shown in full
  // to the caller, who gets 403 or 404).
  std::string explanation;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual Decision decide(const Subject& who, Action action, const Target& target,
                          std::string_view purpose_of_use) const = 0;
};

// The vault core's policy: the "system" subject may do everything; staff
// roles follow the default matrix in docs/architecture.md (clinical roles read
// and write clinical data; reception demographics; it-admin and auditor no
// clinical content). Care relationships and consent come with the access
// policy issue.
std::unique_ptr<Policy> make_role_policy();

}  // namespace medvault::access
