// Facts for the policy from FHIR JSON (access/facts.h).
#include "access/facts.h"

#include <algorithm>
#include <array>

#include "fhir/datetime.h"
#include "fhir/json.h"

namespace medvault::access {
namespace {

namespace bj = boost::json;

constexpr std::array<std::string_view, 13> kRestricted = {
    "R",    "V",                                   // v3-Confidentiality
    "BH",   "PSY", "PSYTHPN",                      // behavioural / mental health
    "ETH",  "SUD",                                 // substance use
    "HIV",  "STD", "SEX", "SDV",                   // HIV, sexual and reproductive health, violence
    "GDIS", "TBOO",                                // genetic disease, taboo
};

// Consent, then the relationship types.
constexpr std::array<std::string_view, 7> kFactSourceTypes = {
    "Consent", "Appointment", "CareTeam", "Encounter", "EpisodeOfCare", "Patient", "ServiceRequest"};
constexpr auto kRelationshipTypes = std::span(kFactSourceTypes).subspan<1>();

const bj::value* member(const bj::object& o, std::string_view key) {
  return o.if_contains(bj::string_view(key.data(), key.size()));
}

std::string_view str(const bj::object& o, std::string_view key) {
  const bj::value* v = member(o, key);
  if (!v || !v->is_string()) return {};
  return {v->get_string().data(), v->get_string().size()};
}

template <typename Fn>
void each_object(const bj::object& o, std::string_view key, Fn&& fn) {
  const bj::value* v = member(o, key);
  if (!v) return;
  if (v->is_object()) {
    fn(v->get_object());
    return;
  }
  if (!v->is_array()) return;
  for (const auto& x : v->get_array())
    if (x.is_object()) fn(x.get_object());
}

// Reference.reference of the element `key` (object or array of them).
template <typename Fn>
void each_reference(const bj::object& o, std::string_view key, Fn&& fn) {
  each_object(o, key, [&](const bj::object& r) {
    auto n = normalise_reference(str(r, "reference"));
    if (!n.empty()) fn(n);
  });
}

bool is_actor_reference(std::string_view ref) {
  return ref.starts_with("Practitioner/") || ref.starts_with("PractitionerRole/") ||
         ref.starts_with("Organization/");
}

std::optional<int64_t> start_of(std::string_view s) {
  if (s.empty()) return std::nullopt;
  auto r = fhir::parse_time_range(s);
  if (!r) return std::nullopt;
  return r->begin_ms;
}
std::optional<int64_t> end_of(std::string_view s) {
  if (s.empty()) return std::nullopt;
  auto r = fhir::parse_time_range(s);
  if (!r) return std::nullopt;
  return r->end_ms;
}

// Period.start / Period.end, open ends unbounded.
void period_of(const bj::object& o, std::string_view key, int64_t& from, int64_t& to) {
  const bj::value* p = member(o, key);
  if (!p || !p->is_object()) return;
  if (auto s = start_of(str(p->get_object(), "start"))) from = *s;
  if (auto e = end_of(str(p->get_object(), "end"))) to = *e;
}

void add(std::vector<Relationship>& out, RelationshipKind k, std::string actor, std::string_view type,
         std::string_view id, int64_t from, int64_t to) {
  if (!is_actor_reference(actor)) return;
  out.push_back({k, std::move(actor), std::string(type) + "/" + std::string(id), from, to});
}

void codes_of(const bj::value* v, std::vector<std::string>& out) {
  // A Coding, a CodeableConcept, or an array of either.
  if (!v) return;
  if (v->is_array()) {
    for (const auto& x : v->get_array()) codes_of(&x, out);
    return;
  }
  if (!v->is_object()) return;
  const auto& o = v->get_object();
  if (auto c = str(o, "code"); !c.empty()) out.emplace_back(c);
  if (const bj::value* cs = member(o, "coding")) codes_of(cs, out);
}

ConsentRule rule_of(const bj::object& p, bool inherited_deny) {
  ConsentRule r;
  auto type = str(p, "type");
  r.deny = type.empty() ? inherited_deny : type == "deny";
  period_of(p, "period", r.from_ms, r.to_ms);
  each_object(p, "actor", [&](const bj::object& a) {
    each_reference(a, "reference", [&](const std::string& ref) { r.actors.push_back(ref); });
    codes_of(member(a, "role"), r.roles);
  });
  codes_of(member(p, "securityLabel"), r.labels);
  codes_of(member(p, "purpose"), r.purposes);
  // Data-period or data-reference criteria are not expressible in the
  // compact form: the provision then applies to all the patient's data,
  // which errs on the side of the patient's refusal for a deny, and is
  // dropped for a permit (it cannot widen access that it did not name).
  return r;
}

}  // namespace

bool is_relationship_type(std::string_view type) {
  return std::find(kRelationshipTypes.begin(), kRelationshipTypes.end(), type) != kRelationshipTypes.end();
}

std::span<const std::string_view> fact_source_types(bool relationships) {
  return std::span<const std::string_view>(kFactSourceTypes).first(relationships ? kFactSourceTypes.size() : 1);
}

bool is_restricted_label(std::string_view code) {
  return std::find(kRestricted.begin(), kRestricted.end(), code) != kRestricted.end();
}

std::string normalise_reference(std::string_view ref) {
  if (ref.empty() || ref.starts_with("#") || ref.starts_with("urn:") || ref.find('?') != std::string_view::npos)
    return {};
  if (auto h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  // The last two segments of a relative or absolute reference: Type/id.
  auto slash = ref.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == ref.size()) return {};
  auto prev = ref.rfind('/', slash - 1);
  auto type = ref.substr(prev == std::string_view::npos ? 0 : prev + 1, slash - (prev == std::string_view::npos ? 0 : prev + 1));
  if (type.empty() || !(type[0] >= 'A' && type[0] <= 'Z')) return {};
  return std::string(ref.substr(type.data() - ref.data()));
}

std::vector<std::string> security_labels(const bj::object& resource) {
  std::vector<std::string> out;
  const bj::value* meta = member(resource, "meta");
  if (!meta || !meta->is_object()) return out;
  const bj::value* sec = member(meta->get_object(), "security");
  if (!sec || !sec->is_array()) return out;
  for (const auto& c : sec->get_array())
    if (c.is_object())
      if (auto code = str(c.get_object(), "code"); !code.empty()) out.emplace_back(code);
  return out;
}

void relationships_of(std::string_view type, std::string_view id, const bj::object& r,
                      std::vector<Relationship>& out) {
  const auto status = str(r, "status");
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (status == "entered-in-error" || status == "cancelled" || status == "noshow" ||
      status == "revoked" || status == "inactive")
    return;
  if (type == "Patient") {
    each_reference(r, "generalPractitioner", [&](const std::string& ref) {
      add(out, RelationshipKind::general_practitioner, ref, type, id, kMin, kMax);
    });
  } else if (type == "CareTeam") {
    int64_t from = kMin, to = kMax;
    period_of(r, "period", from, to);
    each_object(r, "participant", [&](const bj::object& p) {
      int64_t pf = from, pt = to;
      period_of(p, "period", pf, pt);
      each_reference(p, "member", [&](const std::string& ref) {
        add(out, RelationshipKind::care_team, ref, type, id, std::max(from, pf), std::min(to, pt));
      });
    });
  } else if (type == "Encounter") {
    int64_t from = kMin, to = kMax;
    period_of(r, "period", from, to);
    // Finished encounters explain access for a while after they end; an
    // encounter without an end is ongoing.
    if (to != kMax) to = to > kMax - kRecentEncounterMs ? kMax : to + kRecentEncounterMs;
    each_object(r, "participant", [&](const bj::object& p) {
      each_reference(p, "individual", [&](const std::string& ref) {
        add(out, RelationshipKind::encounter, ref, type, id, from, to);
      });
    });
  } else if (type == "Appointment") {
    auto start = start_of(str(r, "start"));
    if (!start) return;  // a proposed appointment without a time explains nothing
    auto end = end_of(str(r, "end")).value_or(*start);
    each_object(r, "participant", [&](const bj::object& p) {
      if (str(p, "status") == "declined") return;
      each_reference(p, "actor", [&](const std::string& ref) {
        add(out, RelationshipKind::appointment, ref, type, id, *start - kAppointmentWindowMs,
            end + kAppointmentWindowMs);
      });
    });
  } else if (type == "EpisodeOfCare") {
    int64_t from = kMin, to = kMax;
    period_of(r, "period", from, to);
    each_reference(r, "careManager", [&](const std::string& ref) {
      add(out, RelationshipKind::episode_of_care, ref, type, id, from, to);
    });
  } else if (type == "ServiceRequest") {
    if (status == "completed" || status == "revoked") return;
    int64_t from = kMin, to = kMax;
    if (auto a = start_of(str(r, "authoredOn"))) {
      from = *a;
      to = *a + kReferralWindowMs;
    }
    each_reference(r, "performer", [&](const std::string& ref) {
      add(out, RelationshipKind::referral, ref, type, id, from, to);
    });
  }
}

std::optional<ConsentDirective> parse_consent(std::string_view id, const bj::object& c) {
  if (str(c, "status") != "active") return std::nullopt;
  const bj::value* p = member(c, "provision");
  if (!p || !p->is_object()) return std::nullopt;
  const auto& base = p->get_object();
  auto type = str(base, "type");
  if (type != "deny" && type != "permit") return std::nullopt;
  ConsentDirective d;
  d.source = "Consent/" + std::string(id);
  d.base = rule_of(base, type == "deny");
  each_object(base, "provision", [&](const bj::object& nested) {
    d.exceptions.push_back(rule_of(nested, !d.base.deny));
  });
  return d;
}

}  // namespace medvault::access
