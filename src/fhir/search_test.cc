#include "fhir/search.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "fhir/datetime.h"
#include "fhir/test_util.h"

namespace medvault::fhir {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Params = std::vector<std::pair<std::string, std::string>>;

ParsedSearch must(std::string_view type, const Params& params, bool strict = true) {
  auto r = parse_search(type, params, strict);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : ParsedSearch{};
}

Error fails(std::string_view type, const Params& params, bool strict = true) {
  auto r = parse_search(type, params, strict);
  EXPECT_FALSE(r.ok());
  return r.ok() ? Error{} : r.error();
}

Resource res(std::string_view json) {
  auto r = parse_resource(json);
  EXPECT_TRUE(r.ok());
  return r.ok() ? std::move(r).value() : Resource{};
}

int64_t ms(std::string_view instant) { return parse_time_range(instant)->begin_ms; }

// True when the index of `r` would answer every term of `s` (the vault's
// lookup), and the residual check passes.
bool matches(const ParsedSearch& s, const Resource& r) {
  auto entries = index_entries(r);
  for (const auto& t : s.terms) {
    bool any = false;
    for (const auto& v : t.values)
      for (const auto& e : entries)
        if (e.param == t.param && e.value == v) any = true;
    if (!any) return false;
  }
  return !s.residual || s.residual(r);
}

TEST(Search, StringParametersBecomePrefixTerms) {
  auto s = must("Patient", {{"name", "Mar"}});
  ASSERT_EQ(s.terms.size(), 1u);
  EXPECT_EQ(s.terms[0].param, "name");
  EXPECT_THAT(s.terms[0].values, ElementsAre("mar"));
  EXPECT_FALSE(s.residual);

  s = must("Patient", {{"family", "Dupont-Lefèvre"}});
  ASSERT_EQ(s.terms.size(), 2u);
  EXPECT_THAT(s.terms[0].values, ElementsAre("dupont"));
  EXPECT_THAT(s.terms[1].values, ElementsAre("lefevre"));

  s = must("Patient", {{"given", "amé,Zo"}});
  ASSERT_EQ(s.terms.size(), 1u);
  EXPECT_THAT(s.terms[0].values, ElementsAre("ame", "zo"));
  EXPECT_FALSE(s.residual);

  Resource p = res(testing::kPatient);
  for (const char* q : {"amel", "AMÉLIE", "dup", "lefe", "Zoë", "Amélie Dupont", "zzz,lef", "xyz pierre,amelie dup"})
    EXPECT_TRUE(matches(must("Patient", {{"name", q}}), p)) << q;
  for (const char* q : {"amelia", "dupond", "Mrs", "amelie pierre", "xyz pierre,amelie dupond"})
    EXPECT_FALSE(matches(must("Patient", {{"name", q}}), p)) << q;
  EXPECT_TRUE(matches(must("Patient", {{"given", "zoe"}}), p));
  EXPECT_FALSE(matches(must("Patient", {{"given", "dupont"}}), p));
}

TEST(Search, LongWordsAreCappedAndRechecked) {
  std::string word(40, 'a');
  auto s = must("Patient", {{"name", word}});
  ASSERT_EQ(s.terms.size(), 1u);
  EXPECT_EQ(s.terms[0].values[0], std::string(32, 'a'));
  ASSERT_TRUE(s.residual);
  std::string longer = R"({"resourceType":"Patient","name":[{"family":")" + std::string(45, 'a') + R"("}]})";
  std::string shorter = R"({"resourceType":"Patient","name":[{"family":")" + std::string(35, 'a') + R"("}]})";
  EXPECT_TRUE(matches(s, res(longer)));
  EXPECT_FALSE(matches(s, res(shorter)));  // same 32-character prefix, but shorter than the query
}

TEST(Search, ExactModifier) {
  auto s = must("Patient", {{"family:exact", "Dupont-Lefèvre"}});
  ASSERT_TRUE(s.residual);
  Resource p = res(testing::kPatient);
  EXPECT_TRUE(matches(s, p));
  EXPECT_FALSE(matches(must("Patient", {{"family:exact", "dupont-lefèvre"}}), p));
  EXPECT_FALSE(matches(must("Patient", {{"family:exact", "Dupont"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"name:exact", "Zoë"}}), p));
  Error e = fails("Patient", {{"name:contains", "upo"}});
  EXPECT_EQ(e.code, Errc::invalid);
  EXPECT_THAT(e.message, HasSubstr("\"name\""));
  EXPECT_THAT(e.message, HasSubstr("unsupported modifier"));
}

TEST(Search, TokenParameters) {
  auto s = must("Patient", {{"identifier", "http://hospital.example.org|MRN-0042"}, {"gender", "female,other"}});
  ASSERT_EQ(s.terms.size(), 2u);
  EXPECT_EQ(s.terms[0].param, "identifier");
  EXPECT_THAT(s.terms[0].values, ElementsAre("http://hospital.example.org|MRN-0042"));
  EXPECT_THAT(s.terms[1].values, ElementsAre("female", "other"));
  Resource p = res(testing::kPatient);
  EXPECT_TRUE(matches(s, p));
  EXPECT_TRUE(matches(must("Patient", {{"identifier", "MRN-0042"}}), p));
  EXPECT_FALSE(matches(must("Patient", {{"identifier", "other|MRN-0042"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"telecom", "phone|+1 555 810 7203"}}), res(
                  R"({"resourceType":"Patient","telecom":[{"system":"phone","value":"1-555-810-7203"}]})")));
  EXPECT_TRUE(matches(must("Patient", {{"telecom", "555.810.7203"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"telecom", "AMELIE.D@example.org"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"address-postalcode", "42 000"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"address-city", "saint-etienne"}}), p));
  EXPECT_FALSE(matches(must("Patient", {{"address-city", "saint"}}), p));  // equality, not prefix

  s = must("Patient", {{"identifier", R"(a\,b,c\|d)"}});
  EXPECT_THAT(s.terms[0].values, ElementsAre("a,b", "c|d"));
  EXPECT_THAT(fails("Patient", {{"identifier", "|123"}}).message, HasSubstr("\"identifier\""));
  EXPECT_FALSE(parse_search("Patient", {{"identifier", "sys|"}}, false).ok());
  EXPECT_FALSE(parse_search("Observation", {{"code:text", "x"}}, false).ok());
}

TEST(Search, EmptyValuesAreIgnored) {
  auto s = must("Patient", {{"name", ""}, {"gender", ","}});
  EXPECT_TRUE(s.terms.empty());
  EXPECT_FALSE(s.residual);
}

TEST(Search, BirthdateEqualityUsesTheIndex) {
  EXPECT_THAT(must("Patient", {{"birthdate", "1980"}}).terms[0].values, ElementsAre("y:1980"));
  EXPECT_THAT(must("Patient", {{"birthdate", "eq1980-05"}}).terms[0].values, ElementsAre("m:1980-05"));
  auto s = must("Patient", {{"birthdate", "1980-05-21,1990"}});
  EXPECT_THAT(s.terms[0].values, ElementsAre("1980-05-21", "y:1990"));
  EXPECT_FALSE(s.residual);
  Resource p = res(testing::kPatient);
  EXPECT_TRUE(matches(s, p));
  EXPECT_FALSE(matches(must("Patient", {{"birthdate", "1980-06"}}), p));
  Resource year_only = res(R"({"resourceType":"Patient","birthDate":"1980"})");
  EXPECT_TRUE(matches(must("Patient", {{"birthdate", "1980"}}), year_only));
  EXPECT_FALSE(matches(must("Patient", {{"birthdate", "1980-05"}}), year_only));  // less precise than asked
}

TEST(Search, BirthdateComparisons) {
  Resource p = res(testing::kPatient);  // 1980-05-21
  auto ge = must("Patient", {{"birthdate", "ge1980-05-21"}});
  EXPECT_TRUE(ge.terms.empty());
  ASSERT_TRUE(ge.residual);
  EXPECT_TRUE(matches(ge, p));
  EXPECT_FALSE(matches(must("Patient", {{"birthdate", "gt1980-05-21"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"birthdate", "gt1980-05-20"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"birthdate", "lt1981"}}), p));
  EXPECT_FALSE(matches(must("Patient", {{"birthdate", "lt1980"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"birthdate", "le1980"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"birthdate", "ne1981"}}), p));
  EXPECT_FALSE(matches(must("Patient", {{"birthdate", "ne1980-05-21"}}), p));
  EXPECT_TRUE(matches(must("Patient", {{"birthdate", "ge1970"}, {"birthdate", "lt1990"}}), p));
  EXPECT_FALSE(matches(must("Patient", {{"birthdate", "ge1970"}, {"birthdate", "lt1980"}}), p));
  EXPECT_FALSE(matches(must("Patient", {{"birthdate", "ge1970"}}), res(R"({"resourceType":"Patient"})")));
}

struct PrefixCase {
  const char* query;
  const char* value;  // JSON of Observation's effective[x] member
  bool match;
};

class DatePrefixes : public ::testing::TestWithParam<PrefixCase> {};

TEST_P(DatePrefixes, FollowR4Semantics) {
  const auto& c = GetParam();
  auto s = must("Observation", {{"date", c.query}});
  ASSERT_TRUE(s.residual);
  Resource r = res(std::string(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)") + c.value +
                   "}");
  EXPECT_EQ(s.residual(r), c.match) << c.query << " vs " << c.value;
}

#define IN_DAY R"("effectiveDateTime":"2020-01-01T10:00:00Z")"
#define NEXT_DAY R"("effectiveDateTime":"2020-01-02T00:00:00Z")"
#define PREV_DAY R"("effectiveDateTime":"2019-12-31T23:59:59Z")"
#define SPANNING R"("effectivePeriod":{"start":"2019-12-31","end":"2020-01-02"})"
#define OPEN_END R"("effectivePeriod":{"start":"2020-01-01T08:00:00Z"})"

INSTANTIATE_TEST_SUITE_P(
    Search, DatePrefixes,
    ::testing::Values(
        PrefixCase{"2020-01-01", IN_DAY, true}, PrefixCase{"eq2020-01-01", NEXT_DAY, false},
        PrefixCase{"eq2020-01-01", SPANNING, false}, PrefixCase{"eq2020", IN_DAY, true},
        PrefixCase{"2020-01-01T10:00:00Z", IN_DAY, true}, PrefixCase{"2020-01-01T11:00:00+01:00", IN_DAY, true},
        PrefixCase{"2020-01-01T10:00", IN_DAY, true},
        PrefixCase{"ne2020-01-01", IN_DAY, false}, PrefixCase{"ne2020-01-01", NEXT_DAY, true},
        PrefixCase{"ne2020-01-01", SPANNING, true},
        PrefixCase{"gt2020-01-01", IN_DAY, false}, PrefixCase{"gt2020-01-01", NEXT_DAY, true},
        PrefixCase{"gt2020-01-01", SPANNING, true}, PrefixCase{"gt2020-01-01", OPEN_END, true},
        PrefixCase{"lt2020-01-01", IN_DAY, false}, PrefixCase{"lt2020-01-01", PREV_DAY, true},
        PrefixCase{"lt2020-01-01", SPANNING, true}, PrefixCase{"lt2020-01-01", OPEN_END, false},
        PrefixCase{"ge2020-01-01", IN_DAY, true}, PrefixCase{"ge2020-01-01", PREV_DAY, false},
        PrefixCase{"ge2020-01-01", NEXT_DAY, true}, PrefixCase{"le2020-01-01", IN_DAY, true},
        PrefixCase{"le2020-01-01", NEXT_DAY, false}, PrefixCase{"le2020-01-01", PREV_DAY, true},
        PrefixCase{"sa2020-01-01", NEXT_DAY, true}, PrefixCase{"sa2020-01-01", IN_DAY, false},
        PrefixCase{"sa2020-01-01", SPANNING, false}, PrefixCase{"eb2020-01-01", PREV_DAY, true},
        PrefixCase{"eb2020-01-01", SPANNING, false}, PrefixCase{"eb2020-01-01", IN_DAY, false},
        PrefixCase{"ap2020-01-01", NEXT_DAY, true}, PrefixCase{"ap2020-01-01", IN_DAY, true},
        PrefixCase{"ap2020-01-01", R"("effectiveDateTime":"2020-01-05T00:00:00Z")", false},
        PrefixCase{"ap2020", R"("effectiveDateTime":"2021-01-20T00:00:00Z")", true},
        PrefixCase{"ap2020", R"("effectiveDateTime":"2021-03-01T00:00:00Z")", false},
        PrefixCase{"2019,2020-01-01", IN_DAY, true}, PrefixCase{"2019,2021", IN_DAY, false},
        PrefixCase{"2020", R"("effectiveString":"unknown")", false},
        PrefixCase{"2020-01-01", R"("effectiveInstant":"2020-01-01T12:00:00.123Z")", true}));

TEST(Search, DateElementsPerType) {
  struct Case {
    const char* type;
    const char* json;
  };
  const Case cases[] = {
      {"Encounter", R"({"resourceType":"Encounter","period":{"start":"2020-01-01T10:00:00Z","end":"2020-01-01T11:00:00Z"}})"},
      {"Condition", R"({"resourceType":"Condition","onsetDateTime":"2020-01-01T10:00:00Z"})"},
      {"Condition", R"({"resourceType":"Condition","onsetPeriod":{"start":"2020-01-01","end":"2020-01-01"}})"},
      {"MedicationRequest", R"({"resourceType":"MedicationRequest","authoredOn":"2020-01-01"})"},
      {"AllergyIntolerance", R"({"resourceType":"AllergyIntolerance","recordedDate":"2020-01-01T00:00:00Z"})"},
      {"Immunization", R"({"resourceType":"Immunization","occurrenceDateTime":"2020-01-01T10:00:00+02:00"})"},
      {"Procedure", R"({"resourceType":"Procedure","performedPeriod":{"start":"2020-01-01T10:00:00Z","end":"2020-01-01T11:00:00Z"}})"},
      {"DocumentReference", R"({"resourceType":"DocumentReference","date":"2020-01-01T10:00:00.5Z"})"},
      {"Appointment", R"({"resourceType":"Appointment","start":"2020-01-01T10:00:00Z"})"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(must(c.type, {{"date", "2020-01-01"}}).residual(res(c.json))) << c.json;
    EXPECT_FALSE(must(c.type, {{"date", "2020-01-02"}}).residual(res(c.json))) << c.json;
  }
  // Condition.recordedDate is not the date parameter (onset is).
  EXPECT_FALSE(must("Condition", {{"date", "2020"}}).residual(res(R"({"resourceType":"Condition","recordedDate":"2020"})")));
}

TEST(Search, BadDates) {
  for (const char* bad : {"2020-13", "20200101", "xx2020", "2020-01-01T25:00", "gt", "ge2020-02-30", "2020-01-01T10:00:00+15:00"}) {
    Error e = fails("Observation", {{"date", bad}});
    EXPECT_EQ(e.code, Errc::invalid) << bad;
    EXPECT_THAT(e.message, HasSubstr("\"date\"")) << bad;
  }
  EXPECT_THAT(fails("Patient", {{"_lastUpdated", "yesterday"}}).message, HasSubstr("\"_lastUpdated\""));
  EXPECT_THAT(fails("Patient", {{"birthdate", "1980-5-1"}}).message, HasSubstr("\"birthdate\""));
}

TEST(Search, ReferenceParameters) {
  auto s = must("Observation", {{"patient", "Patient/p1"}, {"subject", "p2,https://x.example/fhir/Patient/p3"}});
  ASSERT_EQ(s.terms.size(), 2u);
  EXPECT_EQ(s.terms[0].param, "patient");
  EXPECT_THAT(s.terms[0].values, ElementsAre("p1"));
  EXPECT_EQ(s.terms[1].param, "subject");
  EXPECT_THAT(s.terms[1].values, ElementsAre("p2", "p3"));
  EXPECT_THAT(must("Condition", {{"subject:Patient", "p9"}}).terms[0].values, ElementsAre("p9"));
  EXPECT_THAT(must("Condition", {{"patient", "Patient/p9/_history/3"}}).terms[0].values, ElementsAre("p9"));
  // A Group subject is never indexed: the term matches nothing.
  Resource c = res(R"({"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p1"}})");
  EXPECT_FALSE(matches(must("Condition", {{"subject", "Group/p1"}}), c));
  EXPECT_TRUE(matches(must("Condition", {{"subject", "Patient/p1"}}), c));
  EXPECT_TRUE(matches(must("Condition", {{"patient", "p1"}}), c));
  EXPECT_THAT(fails("Condition", {{"patient", "Group/g"}}).message, HasSubstr("\"patient\""));
  EXPECT_FALSE(parse_search("Condition", {{"patient", "Patient/a b"}}, false).ok());
  EXPECT_FALSE(parse_search("Condition", {{"patient", "Foo/a"}}, false).ok());
  EXPECT_FALSE(parse_search("Condition", {{"patient:missing", "true"}}, false).ok());
  // Immunization has no subject element: the parameter is unknown there.
  EXPECT_THAT(fails("Immunization", {{"subject", "p1"}}).message,
              HasSubstr("unknown search parameter \"subject\" for Immunization"));
}

TEST(Search, ClinicalTokens) {
  Resource enc = res(
      R"({"resourceType":"Encounter","id":"e","status":"finished","subject":{"reference":"Patient/p1"},)"
      R"("class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},)"
      R"("type":[{"coding":[{"system":"http://snomed.info/sct","code":"185349003"}]}],)"
      R"("period":{"start":"2020-01-01T10:00:00Z","end":"2020-01-01T10:30:00Z"}})");
  EXPECT_TRUE(matches(must("Encounter", {{"class", "AMB"}, {"status", "finished,in-progress"}}), enc));
  EXPECT_TRUE(matches(must("Encounter", {{"code", "http://snomed.info/sct|185349003"}, {"date", "2020-01"}}), enc));
  EXPECT_FALSE(matches(must("Encounter", {{"code", "http://loinc.org|185349003"}}), enc));
  EXPECT_FALSE(matches(must("Encounter", {{"date", "2020-02"}}), enc));
  Resource cond = res(
      R"({"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p1"},)"
      R"("clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"resolved"}]}})");
  EXPECT_TRUE(matches(must("Condition", {{"status", "resolved"}}), cond));
  EXPECT_FALSE(matches(must("Condition", {{"status", "active"}}), cond));
  EXPECT_THAT(fails("Encounter", {{"category", "x"}}).message, HasSubstr("unknown search parameter"));
}

TEST(Search, CommonParameters) {
  auto s = must("Patient", {{"_id", "a,b"}, {"_count", "50"}, {"_offset", "100"}, {"_sort", "-_lastUpdated"},
                            {"_summary", "count"}, {"_format", "json"}});
  EXPECT_THAT(s.ids, ElementsAre("a", "b"));
  EXPECT_EQ(s.count, 50u);
  EXPECT_EQ(s.offset, 100u);
  EXPECT_TRUE(s.newest_first);
  EXPECT_TRUE(s.summary_count);
  EXPECT_TRUE(s.terms.empty());
  EXPECT_TRUE(s.ignored.empty());

  auto d = must("Patient", {});
  EXPECT_EQ(d.count, kDefaultSearchCount);
  EXPECT_EQ(d.offset, 0u);
  EXPECT_FALSE(d.newest_first);
  EXPECT_FALSE(d.summary_count);
  EXPECT_FALSE(d.residual);

  EXPECT_EQ(must("Patient", {{"_count", "5000"}}).count, kMaxSearchCount);
  EXPECT_EQ(must("Patient", {{"_count", "99999999999999999999999"}}).count, kMaxSearchCount);
  EXPECT_EQ(must("Patient", {{"_count", "0"}}).count, 0u);
  EXPECT_EQ(must("Patient", {{"_sort", "_lastUpdated"}}).newest_first, false);
  for (const char* bad : {"-1", "abc", "", "1.5", " 2"})
    EXPECT_THAT(fails("Patient", {{"_count", bad}}).message, HasSubstr("\"_count\"")) << bad;
  EXPECT_THAT(fails("Patient", {{"_offset", "-3"}}).message, HasSubstr("\"_offset\""));
  EXPECT_THAT(fails("Patient", {{"_id", "a b"}}).message, HasSubstr("\"_id\""));
  EXPECT_THAT(fails("Patient", {{"_sort", "name"}}).message, HasSubstr("\"_sort\""));
  EXPECT_THAT(must("Patient", {{"_sort", "name"}, {"_summary", "text"}}, false).ignored,
              ElementsAre("_sort", "_summary"));
  // _id repeated: both lists must hold.
  EXPECT_THAT(must("Patient", {{"_id", "a,b"}, {"_id", "b,c"}}).ids, ElementsAre("b"));
  auto none = must("Patient", {{"_id", "a"}, {"_id", "c"}}).ids;
  ASSERT_EQ(none.size(), 1u);
  EXPECT_FALSE(is_valid_id(none[0]));
}

TEST(Search, TotalModes) {
  EXPECT_EQ(must("Patient", {}).total, ParsedSearch::Total::when_free);
  EXPECT_EQ(must("Patient", {{"_total", "none"}}).total, ParsedSearch::Total::none);
  EXPECT_EQ(must("Patient", {{"_total", "estimate"}}).total, ParsedSearch::Total::when_free);
  EXPECT_EQ(must("Patient", {{"_total", "accurate"}}).total, ParsedSearch::Total::accurate);
  // A wrong value is an error even in lenient mode: dropping it would
  // silently change what Bundle.total means.
  for (bool strict : {true, false})
    for (const char* bad : {"", "ACCURATE", "exact", "accurate,none", "1"}) {
      auto r = parse_search("Patient", {{"_total", bad}}, strict);
      ASSERT_FALSE(r.ok()) << bad;
      EXPECT_EQ(r.error().code, Errc::invalid);
      EXPECT_EQ(r.error().message, "search parameter \"_total\": expected none, estimate or accurate");
    }
  EXPECT_THAT(fails("Patient", {{"_total:exact", "none"}}).message, HasSubstr("_total"));
  EXPECT_EQ(search_param_type("Patient", "_total"), "special");
}

TEST(Search, LastUpdated) {
  auto s = must("Patient", {{"_lastUpdated", "ge2024-01-01"}, {"_lastUpdated", "lt2024-02"}});
  EXPECT_EQ(s.updated_from_ms, ms("2024-01-01"));
  EXPECT_EQ(s.updated_to_ms, ms("2024-02-01"));
  EXPECT_FALSE(s.residual);
  s = must("Patient", {{"_lastUpdated", "2024-01-01"}});
  EXPECT_EQ(s.updated_from_ms, ms("2024-01-01"));
  EXPECT_EQ(s.updated_to_ms, ms("2024-01-02"));
  s = must("Patient", {{"_lastUpdated", "gt2024-01-01"}});
  EXPECT_EQ(s.updated_from_ms, ms("2024-01-02"));
  EXPECT_FALSE(s.updated_to_ms);
  s = must("Patient", {{"_lastUpdated", "le2024-01-01T10:00:00Z"}});
  EXPECT_EQ(s.updated_to_ms, ms("2024-01-01T10:00:01Z"));
  s = must("Patient", {{"_lastUpdated", "ne2024-01-01"}});
  EXPECT_FALSE(s.updated_from_ms);
  ASSERT_TRUE(s.residual);
  Resource r = res(R"({"resourceType":"Patient","meta":{"lastUpdated":"2024-01-01T10:00:00Z"}})");
  EXPECT_FALSE(s.residual(r));
  EXPECT_TRUE(must("Patient", {{"_lastUpdated", "ne2024-01-02"}}).residual(r));
  EXPECT_TRUE(must("Patient", {{"_lastUpdated", "2023,2024"}}).residual(r));
}

TEST(Search, UnknownParameters) {
  Error e = fails("Patient", {{"x", "1"}});
  EXPECT_EQ(e.code, Errc::invalid);
  EXPECT_EQ(e.message, "unknown search parameter \"x\" for Patient");
  EXPECT_EQ(fails("Patient", {{"_include", "Patient:organization"}}).message,
            "unknown search parameter \"_include\" for Patient");
  EXPECT_EQ(fails("Patient", {{"na\"me", "1"}}).message, "unknown search parameter for Patient");
  auto lenient = must("Patient", {{"x", "1"}, {"name", "mar"}, {"_include", "y"}}, false);
  EXPECT_THAT(lenient.ignored, ElementsAre("x", "_include"));
  ASSERT_EQ(lenient.terms.size(), 1u);
  EXPECT_EQ(fails("Basic", {}).code, Errc::not_found);
  // Types without search parameters of their own still take the common ones.
  EXPECT_TRUE(parse_search("Practitioner", {{"_id", "d1"}}, true).ok());
  EXPECT_FALSE(parse_search("Practitioner", {{"name", "x"}}, true).ok());
}

TEST(Search, ParameterLists) {
  auto patient = search_params("Patient");
  for (const char* p : {"name", "family", "given", "birthdate", "gender", "identifier", "telecom",
                        "address-postalcode", "_id", "_lastUpdated", "_count", "_sort", "_summary", "_offset"})
    EXPECT_THAT(patient, Contains(p));
  for (const char* t : {"Encounter", "Condition", "Observation", "MedicationRequest", "AllergyIntolerance",
                        "Immunization", "Procedure", "DocumentReference", "Appointment"}) {
    auto ps = search_params(t);
    for (const char* p : {"patient", "code", "date", "status"}) EXPECT_THAT(ps, Contains(p)) << t;
    // Every listed parameter parses in strict mode.
    for (const auto& p : ps) {
      std::string value = p == "date" || p == "_lastUpdated" ? "2020" : p == "_count" || p == "_offset" ? "1"
                          : p == "_sort" ? "_lastUpdated" : p == "_summary" ? "count" : p == "_total" ? "accurate" : "x";
      EXPECT_TRUE(parse_search(t, {{p, value}}, true).ok()) << t << " " << p;
      EXPECT_FALSE(search_param_type(t, p).empty()) << t << " " << p;
    }
  }
  EXPECT_THAT(search_params("Immunization"), Not(Contains("subject")));
  EXPECT_THAT(search_params("Encounter"), Contains("class"));
  EXPECT_THAT(search_params("Practitioner"),
              ElementsAre("_id", "_lastUpdated", "_count", "_offset", "_sort", "_summary", "_total"));
  EXPECT_TRUE(search_params("Basic").empty());
  EXPECT_EQ(search_param_type("Patient", "birthdate"), "date");
  EXPECT_EQ(search_param_type("Observation", "subject"), "reference");
  EXPECT_EQ(search_param_type("Observation", "nope"), "");
}

}  // namespace
}  // namespace medvault::fhir
