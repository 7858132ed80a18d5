#include "access/facts_codec.h"

#include <gtest/gtest.h>

#include <limits>

namespace medvault::access {
namespace {

PatientFacts sample() {
  PatientFacts f;
  f.patient = "pid-9";
  f.relationships.push_back({RelationshipKind::general_practitioner, "Practitioner/gp", "Patient/p-1"});
  f.relationships.push_back({RelationshipKind::encounter, "Organization/o\"1\\", "Encounter/e-1",
                             std::numeric_limits<int64_t>::min() + 1, 1'700'000'000'000});
  f.relationships.push_back({RelationshipKind::episode_of_care, "PractitionerRole/r", "EpisodeOfCare/x", -5,
                             std::numeric_limits<int64_t>::max()});
  ConsentDirective c;
  c.source = "Consent/c-1";
  c.base.actors = {"Practitioner/a", "Organization/b"};
  c.base.labels = {"PSY"};
  c.base.to_ms = 42;
  ConsentRule allow;
  allow.deny = false;
  allow.roles = {"physician"};
  allow.purposes = {"ETREAT", "TREAT"};
  allow.from_ms = 7;
  c.exceptions.push_back(allow);
  f.consents.push_back(c);
  f.consents.push_back({"Consent/c-2", {}, {}});
  return f;
}

void expect_same(const PatientFacts& a, const PatientFacts& b) {
  EXPECT_EQ(a.patient, b.patient);
  ASSERT_EQ(a.relationships.size(), b.relationships.size());
  for (size_t i = 0; i < a.relationships.size(); ++i) {
    const auto &x = a.relationships[i], &y = b.relationships[i];
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.actor, y.actor);
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.from_ms, y.from_ms);
    EXPECT_EQ(x.to_ms, y.to_ms);
  }
  auto same_rule = [](const ConsentRule& x, const ConsentRule& y) {
    EXPECT_EQ(x.deny, y.deny);
    EXPECT_EQ(x.actors, y.actors);
    EXPECT_EQ(x.roles, y.roles);
    EXPECT_EQ(x.labels, y.labels);
    EXPECT_EQ(x.purposes, y.purposes);
    EXPECT_EQ(x.from_ms, y.from_ms);
    EXPECT_EQ(x.to_ms, y.to_ms);
  };
  ASSERT_EQ(a.consents.size(), b.consents.size());
  for (size_t i = 0; i < a.consents.size(); ++i) {
    EXPECT_EQ(a.consents[i].source, b.consents[i].source);
    same_rule(a.consents[i].base, b.consents[i].base);
    ASSERT_EQ(a.consents[i].exceptions.size(), b.consents[i].exceptions.size());
    for (size_t j = 0; j < a.consents[i].exceptions.size(); ++j)
      same_rule(a.consents[i].exceptions[j], b.consents[i].exceptions[j]);
  }
}

TEST(FactsCodec, RoundTripsEveryField) {
  const auto f = sample();
  const std::string text = facts_to_json(f);
  EXPECT_EQ(text.find("pid-9"), std::string::npos) << "the patient id is not in the text";
  auto back = facts_from_json(text, "pid-9");
  ASSERT_TRUE(back.has_value()) << text;
  expect_same(f, *back);
  EXPECT_EQ(facts_to_json(*back), text);
}

TEST(FactsCodec, EmptyFacts) {
  PatientFacts f;
  f.patient = "x";
  auto back = facts_from_json(facts_to_json(f), "x");
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->relationships.empty());
  EXPECT_TRUE(back->consents.empty());
}

TEST(FactsCodec, HostileOrGarbledInputIsRefused) {
  const std::string good = facts_to_json(sample());
  for (const std::string& bad : {
           std::string(), std::string("null"), std::string("[]"), std::string("{"), std::string("\xff\xfe"),
           std::string("{\"r\":[]}"), std::string("{\"c\":[]}"), std::string("{\"r\":{},\"c\":[]}"),
           std::string("{\"r\":[1],\"c\":[]}"),
           std::string("{\"r\":[{\"k\":\"friend\",\"a\":\"Practitioner/1\",\"s\":\"X/1\"}],\"c\":[]}"),
           std::string("{\"r\":[{\"k\":\"care-team\",\"a\":1,\"s\":\"X/1\"}],\"c\":[]}"),
           std::string("{\"r\":[{\"k\":\"care-team\",\"a\":\"P/1\",\"s\":\"X/1\",\"f\":1.5}],\"c\":[]}"),
           std::string("{\"r\":[{\"k\":\"care-team\",\"a\":\"P/1\",\"s\":\"X/1\",\"t\":\"9\"}],\"c\":[]}"),
           std::string("{\"r\":[],\"c\":[{\"s\":\"Consent/1\"}]}"),
           std::string("{\"r\":[],\"c\":[{\"s\":\"Consent/1\",\"b\":{\"d\":1}}]}"),
           std::string("{\"r\":[],\"c\":[{\"s\":\"Consent/1\",\"b\":{\"a\":[1]}}]}"),
           std::string("{\"r\":[],\"c\":[{\"s\":\"Consent/1\",\"b\":{},\"x\":{}}]}"),
           std::string("{\"r\":[],\"c\":[{\"s\":\"Consent/1\",\"b\":{},\"x\":[[]]}]}"),
           std::string(100'000, '['),
           good.substr(0, good.size() / 2),
           good + "x",
       }) {
    EXPECT_FALSE(facts_from_json(bad, "p").has_value()) << bad.substr(0, 80);
  }
  EXPECT_FALSE(facts_from_json(std::string(kMaxFactsJson + 1, ' '), "p").has_value());
  // Every single-byte corruption either fails or still parses into valid facts: never a crash.
  for (size_t i = 0; i < good.size(); ++i) {
    std::string t = good;
    t[i] = static_cast<char>(t[i] ^ 0x5a);
    (void)facts_from_json(t, "p");
  }
}

}  // namespace
}  // namespace medvault::access
