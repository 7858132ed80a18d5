// Turning stored FHIR resources into the policy's facts: care relationships,
// compact consent directives, security labels. Pure functions of the JSON;
// hostile or malformed input yields no fact, never a crash.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "access/policy.h"

namespace medvault::access {

// Windows around dated relationships (docs/access-policy.md).
inline constexpr int64_t kDayMs = 24LL * 3600 * 1000;
inline constexpr int64_t kAppointmentWindowMs = 30 * kDayMs;   // before and after the appointment
inline constexpr int64_t kRecentEncounterMs = 180 * kDayMs;    // after the encounter ended
inline constexpr int64_t kReferralWindowMs = 365 * kDayMs;     // after the referral was authored

// Whether resources of `type` can establish a care relationship (the vault
// refreshes a patient's facts when one of these, or a Consent, is written).
bool is_relationship_type(std::string_view type);

// The types a patient's facts are made from: Consent alone, or Consent and
// every relationship type.
std::span<const std::string_view> fact_source_types(bool relationships);

// Appends the care relationships `resource` (of `type`/`id`) establishes:
// Patient.generalPractitioner, CareTeam.participant.member,
// Encounter.participant.individual (+ serviceProvider), Appointment.participant.actor,
// EpisodeOfCare.careManager/team, ServiceRequest.performer. Inactive,
// cancelled or entered-in-error resources establish none.
void relationships_of(std::string_view type, std::string_view id, const boost::json::object& resource,
                      std::vector<Relationship>& out);

// The compact form of an active Consent (status "active"); nullopt for any
// other status or a Consent without provision type. Unknown elements are
// ignored; a provision that names something the compact form cannot express
// (data references, classes) is kept as a deny on its other criteria, which
// errs on the side of the patient's refusal.
std::optional<ConsentDirective> parse_consent(std::string_view id, const boost::json::object& consent);

// The "Type/id" part of a reference ("Practitioner/1", absolute URLs and
// "_history" suffixes reduced); "" if it is not a literal reference.
std::string normalise_reference(std::string_view ref);

// The security-label codes of meta.security (any system): "R", "PSY", ...
std::vector<std::string> security_labels(const boost::json::object& resource);

// Labels that need an explicit grant: confidentiality R and V
// (v3-Confidentiality) and the sensitivity categories of v3-ActCode listed in
// docs/access-policy.md. Other labels (N, M, L, U, obligations) need none.
bool is_restricted_label(std::string_view code);

}  // namespace medvault::access
