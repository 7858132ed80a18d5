// The default policy, table-driven: roles x actions x types x relationship x
// sensitivity x consent, then the pieces (consent parsing, relationships,
// purpose, break-the-glass, redaction).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "access/facts.h"
#include "access/policy.h"
#include "access/redact.h"

namespace medvault::access {
namespace {

namespace bj = boost::json;

constexpr int64_t kNow = 1'800'000'000'000;  // 2027-01-15

bj::object obj(std::string_view text) { return bj::parse(text).as_object(); }

Subject subject(std::string role) {
  Subject s{"u", std::move(role), {}, "Practitioner/dr-a", "", "", {}};
  if (s.role == "service") s.scopes = {"system/*.rs"};
  if (s.role == "patient") s.patient = "p1";
  return s;
}

enum class Rel { none, yes };
enum class Label { none, psy };
enum class Consent { none, deny };

PatientFacts facts(Rel rel, Consent consent) {
  PatientFacts f;
  f.patient = "p1";
  if (rel == Rel::yes)
    f.relationships.push_back({RelationshipKind::care_team, "Practitioner/dr-a", "CareTeam/ct-1", 0, kNow + 1000});
  if (consent == Consent::deny) {
    // "Nobody but my GP (dr-z)": deny all, permit dr-z.
    auto d = parse_consent("c1", obj(R"({"resourceType":"Consent","status":"active",
      "provision":{"type":"deny","provision":[{"type":"permit","actor":[{"reference":{"reference":"Practitioner/dr-z"}}]}]}})"));
    f.consents.push_back(*d);
  }
  return f;
}

struct Cell {
  const char* role;
  Action action;
  const char* type;
  Rel rel;
  Label label;
  Consent consent;
  bool permit;
};

constexpr Action R = Action::read, S = Action::search, H = Action::history, V = Action::vread,
                 C = Action::create, U = Action::update, D = Action::remove, E = Action::everything,
                 X = Action::export_all, T = Action::transaction;

const Cell kCells[] = {
    // Clinicians: clinical data needs a relationship; labels a grant; consent can refuse.
    {"physician", R, "Observation", Rel::yes, Label::none, Consent::none, true},
    {"physician", R, "Observation", Rel::none, Label::none, Consent::none, false},
    {"physician", R, "Observation", Rel::yes, Label::psy, Consent::none, false},
    {"physician", R, "Observation", Rel::yes, Label::none, Consent::deny, false},
    {"physician", S, "Condition", Rel::yes, Label::none, Consent::none, true},
    {"physician", S, "Condition", Rel::none, Label::none, Consent::none, false},
    {"physician", H, "Condition", Rel::yes, Label::none, Consent::none, true},
    {"physician", V, "Condition", Rel::none, Label::none, Consent::none, false},
    {"physician", C, "Observation", Rel::yes, Label::none, Consent::none, true},
    {"physician", C, "Observation", Rel::none, Label::none, Consent::none, false},
    {"physician", U, "Observation", Rel::yes, Label::none, Consent::deny, false},
    {"physician", D, "Observation", Rel::yes, Label::none, Consent::none, true},
    {"physician", E, "Patient", Rel::yes, Label::none, Consent::none, true},
    {"physician", E, "Patient", Rel::yes, Label::none, Consent::deny, false},
    {"physician", X, "Observation", Rel::yes, Label::none, Consent::none, false},
    {"physician", T, "Observation", Rel::yes, Label::none, Consent::none, true},
    {"physician", T, "Observation", Rel::none, Label::none, Consent::none, false},
    // Demographics without a relationship (to find the patient), but consent still refuses.
    {"physician", R, "Patient", Rel::none, Label::none, Consent::none, true},
    {"physician", R, "Patient", Rel::none, Label::none, Consent::deny, false},
    {"physician", R, "Patient", Rel::none, Label::psy, Consent::none, false},
    {"nurse", R, "Observation", Rel::yes, Label::none, Consent::none, true},
    {"nurse", R, "Observation", Rel::none, Label::none, Consent::none, false},
    {"nurse", C, "MedicationRequest", Rel::yes, Label::none, Consent::none, false},
    {"physician", C, "MedicationRequest", Rel::yes, Label::none, Consent::none, true},
    // Reception: demographics and schedule, never clinical; relationship irrelevant.
    {"reception", R, "Patient", Rel::none, Label::none, Consent::none, true},
    {"reception", S, "Appointment", Rel::none, Label::none, Consent::none, true},
    {"reception", U, "Patient", Rel::none, Label::none, Consent::none, true},
    {"reception", R, "Observation", Rel::yes, Label::none, Consent::none, false},
    {"reception", E, "Patient", Rel::yes, Label::none, Consent::none, false},
    {"reception", R, "Patient", Rel::none, Label::none, Consent::deny, false},
    {"reception", R, "Patient", Rel::none, Label::psy, Consent::none, false},
    // The front desk records and reads consent directives; not other clinical types.
    {"reception", R, "Consent", Rel::none, Label::none, Consent::none, true},
    {"reception", S, "Consent", Rel::none, Label::none, Consent::none, true},
    {"reception", C, "Consent", Rel::none, Label::none, Consent::none, true},
    {"reception", U, "Consent", Rel::none, Label::none, Consent::none, true},
    {"reception", R, "Consent", Rel::none, Label::none, Consent::deny, false},
    {"reception", C, "Condition", Rel::none, Label::none, Consent::none, false},
    // Manager: schedule and directory only.
    {"manager", R, "Appointment", Rel::none, Label::none, Consent::none, true},
    {"manager", U, "Appointment", Rel::none, Label::none, Consent::none, false},
    {"manager", R, "Patient", Rel::none, Label::none, Consent::none, false},
    {"manager", R, "Condition", Rel::yes, Label::none, Consent::none, false},
    {"manager", R, "Consent", Rel::none, Label::none, Consent::none, false},
    {"manager", C, "Consent", Rel::none, Label::none, Consent::none, false},
    // Separation of duties.
    {"it-admin", R, "Patient", Rel::yes, Label::none, Consent::none, false},
    {"it-admin", S, "Observation", Rel::yes, Label::none, Consent::none, false},
    {"auditor", R, "Observation", Rel::yes, Label::none, Consent::none, false},
    {"auditor", E, "Patient", Rel::yes, Label::none, Consent::none, false},
    // Service: scopes; labels and consent apply; no relationship needed.
    {"service", R, "Observation", Rel::none, Label::none, Consent::none, true},
    {"service", C, "Observation", Rel::none, Label::none, Consent::none, false},
    {"service", R, "Observation", Rel::none, Label::psy, Consent::none, false},
    {"service", S, "Observation", Rel::none, Label::none, Consent::deny, false},
    // Patient: own record, read only.
    {"patient", R, "Observation", Rel::none, Label::psy, Consent::deny, true},
    {"patient", E, "Patient", Rel::none, Label::none, Consent::none, true},
    {"patient", U, "Observation", Rel::none, Label::none, Consent::none, false},
    // The local administrator.
    {"system", X, "Observation", Rel::none, Label::psy, Consent::none, true},
    {"system", R, "Observation", Rel::none, Label::none, Consent::deny, true},
};

TEST(Policy, DefaultMatrix) {
  auto policy = make_policy();
  const auto plain = obj(R"({"resourceType":"Observation"})");
  const auto psy = obj(R"({"resourceType":"Observation","meta":{"security":[
      {"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]}})");
  for (const auto& c : kCells) {
    auto f = facts(c.rel, c.consent);
    Target t{c.type, "x1", "p1", c.label == Label::psy ? &psy : &plain, &f, nullptr, kNow};
    auto d = policy->decide(subject(c.role), c.action, t, default_purpose(c.role));
    EXPECT_EQ(d.permit, c.permit) << c.role << " " << action_name(c.action) << " " << c.type
                                  << " rel=" << int(c.rel) << " label=" << int(c.label)
                                  << " consent=" << int(c.consent) << ": " << d.explanation;
    EXPECT_FALSE(d.flagged);
    EXPECT_FALSE(d.explanation.empty());
  }
}

// Where needs_relationships() says no, facts without the relationships give
// the same decision as with them (the repository then loads consents only);
// where it says yes, they can only deny more.
TEST(Policy, RelationshipsMatterOnlyWhereNeedsRelationshipsSaysSo) {
  auto policy = make_policy();
  const auto plain = obj(R"({"resourceType":"Observation"})");
  const char* roles[] = {"physician", "nurse", "reception", "manager", "it-admin", "auditor", "service", "patient"};
  const char* types[] = {"Observation", "Condition", "Patient", "Appointment", "Consent", "Encounter",
                         "CareTeam", "Practitioner", "MedicationRequest"};
  const Action actions[] = {R, S, H, V, C, U, D, E, T};
  int checked = 0;
  for (const char* role : roles)
    for (const char* type : types)
      for (Action a : actions)
        for (Consent consent : {Consent::none, Consent::deny})
          for (std::string_view purpose : {std::string_view("TREAT"), std::string_view("ETREAT")}) {
            auto full = facts(Rel::yes, consent);
            auto bare = facts(Rel::none, consent);
            Target tf{type, "x1", "p1", &plain, &full, nullptr, kNow};
            Target tb{type, "x1", "p1", &plain, &bare, nullptr, kNow};
            auto who = subject(role);
            auto df = policy->decide(who, a, tf, purpose);
            auto db = policy->decide(who, a, tb, purpose);
            if (needs_relationships(who, tf)) {
              EXPECT_TRUE(df.permit || !db.permit) << role << " " << type;
            } else {
              EXPECT_EQ(df.permit, db.permit) << role << " " << action_name(a) << " " << type << " " << purpose;
              ++checked;
            }
          }
  EXPECT_GT(checked, 500);
  EXPECT_TRUE(needs_relationships(subject("physician"), Target{"Observation", "o", "p1"}));
  EXPECT_FALSE(needs_relationships(subject("physician"), Target{"Patient", "p1", "p1"}));
}

TEST(Policy, ExplanationNamesTheRelationshipAndGrant) {
  auto policy = make_policy();
  auto f = facts(Rel::yes, Consent::none);
  auto psy = obj(R"({"meta":{"security":[{"code":"PSY"},{"code":"N"}]}})");
  auto who = subject("physician");
  who.grants = {"PSY"};
  auto d = policy->decide(who, Action::read, {"Observation", "o", "p1", &psy, &f, nullptr, kNow}, "TREAT");
  EXPECT_TRUE(d.permit);
  EXPECT_EQ(d.explanation, "care-team CareTeam/ct-1; grant PSY");
  who.grants = {"*"};
  EXPECT_TRUE(policy->decide(who, Action::read, {"Observation", "o", "p1", &psy, &f, nullptr, kNow}, "TREAT").permit);
}

TEST(Policy, RelationshipExpires) {
  auto policy = make_policy();
  auto f = facts(Rel::yes, Consent::none);
  Target t{"Observation", "o", "p1", nullptr, &f, nullptr, kNow + 1001};
  EXPECT_FALSE(policy->decide(subject("physician"), Action::read, t, "TREAT").permit);
  Target none{"Observation", "o", "p1", nullptr, nullptr, nullptr, kNow};
  EXPECT_FALSE(policy->decide(subject("physician"), Action::read, none, "TREAT").permit)
      << "no facts gathered: no relationship";
}

TEST(Policy, PurposeOfUse) {
  auto policy = make_policy();
  auto f = facts(Rel::yes, Consent::none);
  Target t{"Observation", "o", "p1", nullptr, &f, nullptr, kNow};
  EXPECT_FALSE(policy->decide(subject("physician"), Action::read, t, "NOPE").permit);
  EXPECT_FALSE(policy->decide(subject("physician"), Action::read, t, "HPAYMT").permit);
  EXPECT_TRUE(policy->decide(subject("reception"), Action::read, {"Patient", "p1", "p1", nullptr, &f, nullptr, kNow}, "HPAYMT").permit);
  auto d = policy->decide(subject("physician"), Action::read, t, "ETREAT");
  EXPECT_FALSE(d.permit) << "emergency only through break-the-glass";
  EXPECT_TRUE(d.glass_breakable);
}

TEST(Policy, BreakTheGlass) {
  auto policy = make_policy();
  auto f = facts(Rel::none, Consent::none);
  BreakGlassGrant g{kNow + 60'000, "audit entry 42"};
  Target t{"Observation", "o", "p1", nullptr, &f, nullptr, kNow};
  auto d = policy->decide(subject("physician"), Action::read, t, "ETREAT");
  EXPECT_FALSE(d.permit);
  EXPECT_TRUE(d.glass_breakable);
  t.grant = &g;
  d = policy->decide(subject("physician"), Action::read, t, "ETREAT");
  EXPECT_TRUE(d.permit);
  EXPECT_TRUE(d.flagged);
  EXPECT_NE(d.explanation.find("break-the-glass grant until 2027-01-15T08:01:00.000Z (audit entry 42)"), std::string::npos)
      << d.explanation;
  EXPECT_NE(d.explanation.find("no care relationship"), std::string::npos);
  // Expired.
  t.now_ms = kNow + 60'000;
  EXPECT_FALSE(policy->decide(subject("physician"), Action::read, t, "ETREAT").permit);
  // Not for reception, whatever the grant.
  t.now_ms = kNow;
  EXPECT_FALSE(policy->decide(subject("reception"), Action::read, t, "TREAT").permit);
  // The role matrix is never broken: reception data only for reception.
  EXPECT_FALSE(policy->decide(subject("physician"), Action::export_all, t, "TREAT").permit);
}

TEST(Policy, ConsentMayBlockEmergencyPerPractice) {
  auto f = facts(Rel::yes, Consent::deny);
  BreakGlassGrant g{kNow + 60'000, ""};
  Target t{"Observation", "o", "p1", nullptr, &f, &g, kNow};
  EXPECT_TRUE(make_policy({false})->decide(subject("physician"), Action::read, t, "ETREAT").permit);
  auto d = make_policy({true})->decide(subject("physician"), Action::read, t, "ETREAT");
  EXPECT_FALSE(d.permit);
  EXPECT_FALSE(d.glass_breakable);
  EXPECT_EQ(d.explanation, "refused by Consent/c1");
}

TEST(Consent, ActorRoleOrganisationPurposeLabelAndPeriod) {
  auto policy = make_policy();
  PatientFacts f;
  f.patient = "p1";
  f.relationships.push_back({RelationshipKind::encounter, "Practitioner/dr-a", "Encounter/e1"});
  f.relationships.push_back({RelationshipKind::encounter, "Practitioner/dr-b", "Encounter/e1"});
  auto c = parse_consent("c2", obj(R"({"status":"active","provision":{"type":"permit","provision":[
      {"type":"deny","actor":[{"role":{"coding":[{"code":"nurse"}]}}]},
      {"type":"deny","actor":[{"reference":{"reference":"https://x/fhir/Practitioner/dr-b/_history/2"}}]},
      {"type":"deny","actor":[{"reference":{"reference":"Organization/ins"}}],"purpose":[{"code":"HPAYMT"}]},
      {"type":"deny","securityLabel":[{"code":"HIV"}]},
      {"type":"deny","purpose":[{"code":"HRESCH"}],"period":{"start":"2020-01-01","end":"2020-12-31"}}]}})"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->exceptions.size(), 5u);
  EXPECT_EQ(c->exceptions[1].actors.front(), "Practitioner/dr-b");
  f.consents.push_back(*c);
  Target t{"Observation", "o", "p1", nullptr, &f, nullptr, kNow};
  EXPECT_TRUE(policy->decide(subject("physician"), Action::read, t, "TREAT").permit);
  EXPECT_FALSE(policy->decide(subject("nurse"), Action::read, t, "TREAT").permit);
  auto b = subject("physician");
  b.practitioner = "Practitioner/dr-b";
  EXPECT_FALSE(policy->decide(b, Action::read, t, "TREAT").permit);
  auto ins = subject("service");
  ins.practitioner.clear();
  ins.organization = "Organization/ins";
  EXPECT_TRUE(policy->decide(ins, Action::read, t, "TREAT").permit);
  EXPECT_FALSE(policy->decide(ins, Action::read, t, "HPAYMT").permit);
  // Research refusal was for 2020 only.
  EXPECT_TRUE(policy->decide(ins, Action::read, t, "HRESCH").permit);
  auto hiv = obj(R"({"meta":{"security":[{"code":"HIV"}]}})");
  auto granted = subject("physician");
  granted.grants = {"HIV"};
  t.resource = &hiv;
  EXPECT_FALSE(policy->decide(granted, Action::read, t, "TREAT").permit) << "the patient refused HIV data";
  // Inactive consents and malformed ones are ignored.
  EXPECT_FALSE(parse_consent("c", obj(R"({"status":"inactive","provision":{"type":"deny"}})")));
  EXPECT_FALSE(parse_consent("c", obj(R"({"status":"active","provision":{"type":7}})")));
  EXPECT_FALSE(parse_consent("c", obj(R"({"status":"active","provision":[1]})")));
}

TEST(Relationships, FromStoredResources) {
  std::vector<Relationship> rs;
  relationships_of("Patient", "p1", obj(R"({"generalPractitioner":[{"reference":"Practitioner/gp"},{"reference":"Patient/x"}]})"), rs);
  relationships_of("CareTeam", "ct", obj(R"({"status":"active","participant":[{"member":{"reference":"PractitionerRole/r1"}}]})"), rs);
  relationships_of("CareTeam", "old", obj(R"({"status":"inactive","participant":[{"member":{"reference":"Practitioner/q"}}]})"), rs);
  relationships_of("Encounter", "e", obj(R"({"status":"finished","period":{"start":"2026-01-01T10:00:00Z","end":"2026-01-01T11:00:00Z"},
      "participant":[{"individual":{"reference":"Practitioner/enc"}}]})"), rs);
  relationships_of("Appointment", "a", obj(R"({"status":"booked","start":"2027-01-20T09:00:00Z",
      "participant":[{"actor":{"reference":"Patient/p1"}},{"actor":{"reference":"Practitioner/appt"}}]})"), rs);
  relationships_of("ServiceRequest", "sr", obj(R"({"status":"active","intent":"order","performer":[{"reference":"Practitioner/ref"}]})"), rs);
  relationships_of("Observation", "o", obj(R"({"performer":[{"reference":"Practitioner/no"}]})"), rs);
  relationships_of("Encounter", "bad", obj(R"({"participant":"nonsense","period":{"start":12}})"), rs);
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(rs[0].actor, "Practitioner/gp");
  EXPECT_EQ(rs[1].source, "CareTeam/ct");
  EXPECT_EQ(rs[2].kind, RelationshipKind::encounter);
  EXPECT_EQ(rs[2].to_ms - kRecentEncounterMs, 1767265201000);
  EXPECT_EQ(rs[3].actor, "Practitioner/appt");
  EXPECT_EQ(rs[3].from_ms, 1800435600000 - kAppointmentWindowMs);
  EXPECT_EQ(rs[4].kind, RelationshipKind::referral);
}

TEST(Relationships, WritingAnEncounterThatNamesMeEstablishesOne) {
  auto policy = make_policy();
  auto f = facts(Rel::none, Consent::none);
  auto enc = obj(R"({"resourceType":"Encounter","status":"in-progress","participant":[{"individual":{"reference":"Practitioner/dr-a"}}]})");
  auto other = obj(R"({"resourceType":"Encounter","status":"in-progress","participant":[{"individual":{"reference":"Practitioner/dr-q"}}]})");
  EXPECT_TRUE(policy->decide(subject("physician"), Action::create, {"Encounter", "e", "p1", &enc, &f, nullptr, kNow}, "TREAT").permit);
  EXPECT_FALSE(policy->decide(subject("physician"), Action::create, {"Encounter", "e", "p1", &other, &f, nullptr, kNow}, "TREAT").permit);
  EXPECT_FALSE(policy->decide(subject("physician"), Action::read, {"Encounter", "e", "p1", &enc, &f, nullptr, kNow}, "TREAT").permit);
}

TEST(Labels, RestrictedCodes) {
  for (auto c : {"R", "V", "PSY", "HIV", "ETH", "SEX", "SDV", "BH"}) EXPECT_TRUE(is_restricted_label(c)) << c;
  for (auto c : {"N", "M", "L", "U", "", "psy"}) EXPECT_FALSE(is_restricted_label(c)) << c;
  EXPECT_EQ(normalise_reference("Practitioner/1"), "Practitioner/1");
  EXPECT_EQ(normalise_reference("https://h/fhir/Practitioner/1/_history/3"), "Practitioner/1");
  EXPECT_EQ(normalise_reference("urn:uuid:1"), "");
  EXPECT_EQ(normalise_reference("/x"), "");
  EXPECT_EQ(normalise_reference("1/2"), "");
  EXPECT_EQ(normalise_reference("Patient?x=1"), "");
}

TEST(Redaction, ReceptionSeesPatientWithoutClinicalExtensions) {
  auto p = obj(R"({"resourceType":"Patient","id":"p1","name":[{"family":"X"}],"birthDate":"1970-01-01",
      "extension":[{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"}],
      "text":{"status":"generated","div":"<div>diabetic</div>"},"photo":[{}]})");
  auto physician_view = p;
  EXPECT_FALSE(redact("physician", "Patient", physician_view));
  EXPECT_EQ(physician_view, p);
  EXPECT_TRUE(redact("reception", "Patient", p));
  EXPECT_FALSE(p.contains("extension"));
  EXPECT_FALSE(p.contains("text"));
  EXPECT_FALSE(p.contains("photo"));
  EXPECT_TRUE(p.contains("name"));
  EXPECT_TRUE(p.contains("birthDate"));
  auto a = obj(R"({"resourceType":"Appointment","status":"booked","reasonCode":[{"text":"HIV follow-up"}],"comment":"x"})");
  EXPECT_TRUE(redact("manager", "Appointment", a));
  EXPECT_EQ(a.size(), 2u);
}

TEST(Redaction, UpdateByReceptionKeepsWhatItCannotSee) {
  auto current = obj(R"({"resourceType":"Patient","id":"p1","name":[{"family":"X"}],"extension":[{"url":"u"}]})");
  auto incoming = obj(R"({"resourceType":"Patient","id":"p1","name":[{"family":"Y"}],"text":{"div":"forged"}})");
  keep_hidden("reception", "Patient", current, incoming);
  EXPECT_EQ(incoming, obj(R"({"resourceType":"Patient","id":"p1","name":[{"family":"Y"}],"extension":[{"url":"u"}]})"));
}

}  // namespace
}  // namespace medvault::access
