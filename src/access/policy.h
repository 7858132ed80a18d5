// The policy decision point. Every request that reaches patient data asks it
// through the repository facade (vault/repository.h); nothing else decides.
//
// The decision is a pure function of explicit facts: who asks (Subject), what
// (Action, Target), why (purpose of use), and what is known of the patient
// (PatientFacts: care relationships, consent directives) and of this subject
// for this patient (a break-the-glass grant). The caller (the vault) gathers
// and caches the facts; the policy never touches a store, so one decision
// for a cached subject costs well under 2 µs (bench/policy_bench.cc).
// docs/access-policy.md describes the semantics.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
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
  // (Defaulted, so the three-field initialisers of older callers stay valid.)
  // Reference the account acts as in the records: "Practitioner/<id>" for
  // staff (matched against care relationships and consent actors); empty
  // when not linked.
  std::string practitioner = {};
  std::string organization = {};  // "Organization/<id>" of an outside organisation's account, or ""
  std::string patient = {};  // the Patient id of a `patient` account (portal), or ""
  // Sensitivity codes granted on top of the role (docs/access-policy.md):
  // confidentiality "R"/"V", categories "PSY", "HIV", ...; "*" grants all.
  std::vector<std::string> grants = {};
};

enum class Action {
  read, vread, search, history, create, update, remove, everything, export_all,
  transaction, import,
};
std::string_view action_name(Action a);

// How a care relationship explains access (docs/access-policy.md).
enum class RelationshipKind { general_practitioner, care_team, appointment, referral, encounter, episode_of_care };
std::string_view relationship_name(RelationshipKind k);

// One care relationship of a practitioner (or role, or organisation) to a
// patient, derived from a stored resource, valid in [from_ms, to_ms].
struct Relationship {
  RelationshipKind kind = RelationshipKind::encounter;
  std::string actor;   // "Practitioner/<id>", "PractitionerRole/<id>" or "Organization/<id>"
  std::string source;  // the resource that establishes it, "CareTeam/ct-1"
  int64_t from_ms = std::numeric_limits<int64_t>::min();
  int64_t to_ms = std::numeric_limits<int64_t>::max();
};

// One provision of a Consent in compact form. An empty list matches anything.
struct ConsentRule {
  bool deny = true;
  std::vector<std::string> actors;    // references: Practitioner/, PractitionerRole/, Organization/
  std::vector<std::string> roles;     // medvault role names (actor.role codes)
  std::vector<std::string> labels;    // security-label codes (confidentiality or category)
  std::vector<std::string> purposes;  // purpose-of-use codes
  int64_t from_ms = std::numeric_limits<int64_t>::min();
  int64_t to_ms = std::numeric_limits<int64_t>::max();
};

// An active Consent of the patient: the base provision and its nested
// provisions (exceptions to the base, which win when they match).
struct ConsentDirective {
  std::string source;  // "Consent/<id>"
  ConsentRule base;
  std::vector<ConsentRule> exceptions;
};

// What is known of one patient, independently of who asks: gathered from the
// stored data by the vault and cached until the patient's compartment changes.
struct PatientFacts {
  std::string patient;  // Patient id
  std::vector<Relationship> relationships;
  std::vector<ConsentDirective> consents;
};

// An active break-the-glass grant of one subject for one patient.
struct BreakGlassGrant {
  int64_t until_ms = 0;
  std::string note;  // where the reason is recorded, e.g. "audit entry 123"
};

// What is being accessed.
struct Target {
  Target() = default;
  Target(std::string type_, std::string id_, std::string patient_,
         const boost::json::object* resource_ = nullptr, const struct PatientFacts* facts_ = nullptr,
         const struct BreakGlassGrant* grant_ = nullptr, int64_t now = 0)
      : type(std::move(type_)), id(std::move(id_)), patient(std::move(patient_)), resource(resource_),
        facts(facts_), grant(grant_), now_ms(now) {}

  std::string type;
  std::string id;
  std::string patient;  // compartment patient id, "" for shared resources
  // When known (after decryption / before write): its meta.security labels
  // are checked. Without it the decision covers everything but the labels,
  // and the caller must decide again with the resource before handing data
  // out (the repository does).
  const boost::json::object* resource = nullptr;
  // Facts of `patient` (nullptr: none gathered, as for shared resources;
  // a clinical role is then refused access to compartment data).
  const PatientFacts* facts = nullptr;
  // This subject's break-the-glass grant for `patient`, if any (expired ones
  // are ignored by the policy).
  const BreakGlassGrant* grant = nullptr;
  int64_t now_ms = 0;
};

struct Decision {
  bool permit = false;
  // Why: for a permit, the explanation stored with the audit entry (e.g.
  // "care-team CareTeam/ct-1"); for a denial, the reason (audited, never shown
  // to the caller, who gets 403 or 404).
  std::string explanation;
  bool flagged = false;  // access by break-the-glass: the privacy officer reviews it
  // Denied for lack of a relationship or a consent (not by the role matrix):
  // a clinician may ask for break-the-glass.
  bool glass_breakable = false;
};

// Per-practice settings.
struct Settings {
  // When true, a patient's deny directive also blocks break-the-glass access.
  bool consent_blocks_emergency = false;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual Decision decide(const Subject& who, Action action, const Target& target,
                          std::string_view purpose_of_use) const = 0;
};

// The default policy: the role matrix of docs/architecture.md refined by care
// relationships, sensitivity labels, consent directives, purpose of use and
// break-the-glass (docs/access-policy.md).
std::unique_ptr<Policy> make_policy(Settings settings = {});
// Kept for callers of the vault core: the default policy with default settings.
std::unique_ptr<Policy> make_role_policy();

// Purpose-of-use codes the policy knows (v3 ActReason): TREAT, ETREAT,
// HPAYMT, HOPERAT, PATRQT, PUBHLTH, HRESCH.
bool is_known_purpose(std::string_view code);

// The roles an administrator may give a staff account and move it between
// (docs/architecture.md "Roles"); patient and service accounts are not staff.
inline constexpr std::string_view kStaffRoles[] = {"physician", "nurse", "reception", "manager", "it-admin", "auditor"};
bool is_staff_role(std::string_view role);

// The session default purpose of use of a role when the request names none:
// TREAT for clinical roles, reception, patients and services, HOPERAT for
// the manager.
std::string_view default_purpose(std::string_view role);

// Whether `type` is clinical content (everything in a patient compartment
// but Patient and Appointment, plus Consent).
bool is_clinical_type(std::string_view type);

// Whether a decision for `who` on `t` can depend on the patient's care
// relationships (clinicians on clinical content). When it cannot, the caller
// may hand over facts holding the consents only: relationships only ever
// grant, so facts without them can never permit more.
bool needs_relationships(const Subject& who, const Target& t);

}  // namespace medvault::access
