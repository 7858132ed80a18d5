#include "fhir/resource.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "fhir/test_util.h"
#include "fhir/text.h"

namespace medvault::fhir {
namespace {

using ::testing::Contains;
using ::testing::Not;

Resource must_parse(std::string_view s) {
  auto r = parse_resource(s);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : Resource{};
}

std::vector<std::string> values(const std::vector<IndexEntry>& entries, std::string_view param) {
  std::vector<std::string> out;
  for (const auto& e : entries)
    if (e.param == param) out.push_back(e.value);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ParseResource, RequiresAnObjectWithResourceType) {
  EXPECT_EQ(parse_resource("[1]").error().code, Errc::invalid);
  EXPECT_EQ(parse_resource(R"({"id":"x"})").error().message, "missing resourceType");
  EXPECT_EQ(parse_resource(R"({"resourceType":5})").error().code, Errc::invalid);
  EXPECT_EQ(parse_resource(R"({"resourceType":""})").error().code, Errc::invalid);
  EXPECT_EQ(parse_resource("{").error().code, Errc::invalid);
  Resource r = must_parse(R"({"resourceType":"Patient","id":"a-1"})");
  EXPECT_EQ(r.type, "Patient");
  EXPECT_EQ(r.id, "a-1");
  EXPECT_EQ(must_parse(R"({"resourceType":"Patient","id":7})").id, "");
}

TEST(Types, SupportedAndKnown) {
  EXPECT_EQ(supported_types().size(), 28u);
  for (auto t : supported_types()) {
    EXPECT_TRUE(is_supported_type(t)) << t;
    EXPECT_TRUE(is_known_r4_type(t)) << t;
  }
  EXPECT_FALSE(is_supported_type("Bundle"));
  EXPECT_TRUE(is_known_r4_type("Bundle"));
  EXPECT_TRUE(is_known_r4_type("VisionPrescription"));
  EXPECT_TRUE(is_known_r4_type("Account"));
  EXPECT_FALSE(is_known_r4_type("Resource"));
  EXPECT_FALSE(is_known_r4_type("DomainResource"));
  EXPECT_FALSE(is_known_r4_type("patient"));
  EXPECT_FALSE(is_known_r4_type("Foo"));
  EXPECT_FALSE(is_known_r4_type(""));
}

TEST(Ids, Format) {
  EXPECT_TRUE(is_valid_id("a"));
  EXPECT_TRUE(is_valid_id("129c6ac7-8d06-89de-ad63-0204a93e76c3"));
  EXPECT_TRUE(is_valid_id("A.b-9"));
  EXPECT_TRUE(is_valid_id(std::string(64, 'x')));
  EXPECT_FALSE(is_valid_id(std::string(65, 'x')));
  EXPECT_FALSE(is_valid_id(""));
  EXPECT_FALSE(is_valid_id("a b"));
  EXPECT_FALSE(is_valid_id("a/b"));
  EXPECT_FALSE(is_valid_id("a_b"));
  EXPECT_FALSE(is_valid_id("\xC3\xA9"));
}

TEST(SetMeta, SetsIdVersionAndLastUpdatedKeepingTheRest) {
  Resource r = must_parse(
      R"({"gender":"male","meta":{"profile":["http://x/p"],"versionId":"9"},"resourceType":"Patient"})");
  set_meta(r, "new-id", 3, "2024-01-02T03:04:05.678Z");
  EXPECT_EQ(r.id, "new-id");
  EXPECT_EQ(serialize(r.json),
            R"({"resourceType":"Patient","id":"new-id","meta":{"profile":["http://x/p"],"versionId":"3",)"
            R"("lastUpdated":"2024-01-02T03:04:05.678Z"},"gender":"male"})");
  EXPECT_TRUE(validate(r).ok());
  Resource bare = must_parse(R"({"resourceType":"Patient","id":"old"})");
  set_meta(bare, "old", 1, "2024-01-02T03:04:05Z");
  EXPECT_EQ(serialize(bare.json),
            R"({"resourceType":"Patient","id":"old","meta":{"versionId":"1","lastUpdated":"2024-01-02T03:04:05Z"}})");
}

TEST(PatientOf, Compartments) {
  EXPECT_EQ(patient_of(must_parse(R"({"resourceType":"Patient","id":"p1"})")), "p1");
  EXPECT_EQ(patient_of(must_parse(R"({"resourceType":"Patient"})")), std::nullopt);
  EXPECT_EQ(patient_of(must_parse(R"({"resourceType":"Condition","subject":{"reference":"Patient/p2"}})")), "p2");
  EXPECT_EQ(patient_of(must_parse(R"({"resourceType":"Immunization","patient":{"reference":"Patient/p3"}})")), "p3");
  EXPECT_EQ(patient_of(must_parse(R"({"resourceType":"Coverage","beneficiary":{"reference":"Patient/p4"}})")), "p4");
  EXPECT_EQ(patient_of(must_parse(
                R"({"resourceType":"Observation","subject":{"reference":"Patient/p5/_history/2"}})")),
            "p5");
  EXPECT_EQ(patient_of(must_parse(
                R"({"resourceType":"Observation","subject":{"reference":"Group/g"},"patient":{"reference":"Patient/p6"}})")),
            "p6");
  EXPECT_EQ(patient_of(must_parse(
                R"({"resourceType":"Appointment","participant":[{"actor":{"reference":"Practitioner/d"}},{"actor":{"reference":"Patient/p7"}}]})")),
            "p7");
  EXPECT_EQ(patient_of(must_parse(
                R"({"resourceType":"Condition","subject":{"reference":"urn:uuid:0d3a1b5e-2b8c-4d1e-9f00-1234567890ab"}})")),
            std::nullopt);
  EXPECT_EQ(patient_of(must_parse(R"({"resourceType":"Condition","subject":{"reference":"Patient/a b"}})")),
            std::nullopt);
  EXPECT_EQ(patient_of(must_parse(R"({"resourceType":"Condition","subject":{"display":"x"}})")), std::nullopt);
  EXPECT_EQ(patient_of(must_parse(R"({"resourceType":"Organization","id":"o"})")), std::nullopt);
}

TEST(Normalise, Text) {
  EXPECT_EQ(normalise_text("  Amélie   ZOË "), "amelie zoe");
  EXPECT_EQ(normalise_text("Ça, c'est Straße!"), "ca cest strasse");
  EXPECT_EQ(normalise_text("Dupont-Lefèvre"), "dupont lefevre");
  EXPECT_EQ(normalise_text("O’Brien"), "obrien");
  EXPECT_EQ(normalise_text("Łukasz Żółć Œuvre Ĳssel Þór Æsa"), "lukasz zolc oeuvre ijssel thor aesa");
  EXPECT_EQ(normalise_text("e\xCC\x81le\xCC\x80ve"), "eleve");  // combining accents
  EXPECT_EQ(normalise_text("Smith123 #42"), "smith123 42");
  EXPECT_EQ(normalise_text("ΑΘΗΝΑ Москва"), "αθηνα москва");
  EXPECT_EQ(normalise_text("\xFF bad \xC3"), "bad");  // invalid UTF-8 bytes separate words
  EXPECT_EQ(normalise_text(""), "");
  EXPECT_EQ(normalise_text("--"), "");
}

TEST(Normalise, Prefixes) {
  std::string long_word(40, 'x');
  EXPECT_EQ(cap_prefix(long_word).size(), 32u);
  EXPECT_EQ(cap_prefix("αβγ"), "αβγ");
  std::string greek;
  for (int i = 0; i < 40; ++i) greek += "α";
  EXPECT_EQ(cap_prefix(greek).size(), 64u);  // 32 two-byte characters
  // Prefixes stop at 32 characters and at character boundaries, and words
  // sharing a start add each prefix once.
  auto e = index_entries(must_parse(std::string(R"({"resourceType":"Patient","name":[{"family":")") + long_word +
                                    R"(","given":["αβ","xy","Xylo"]}]})"));
  auto family = values(e, "family");
  EXPECT_EQ(family.size(), kMaxPrefixChars);
  EXPECT_EQ(family.back(), std::string(32, 'x'));
  EXPECT_EQ(values(e, "given"), (std::vector<std::string>{"x", "xy", "xyl", "xylo", "α", "αβ"}));
  auto name = values(e, "name");
  EXPECT_EQ(name.size(), 32u + 3 + 2);  // x..x (32), xy, xyl, xylo, α, αβ
}

TEST(Normalise, Telecom) {
  EXPECT_EQ(normalise_telecom("phone", "+1 (555) 810-7203"), "15558107203");
  EXPECT_EQ(normalise_telecom("", "555-810-7203"), "5558107203");
  EXPECT_EQ(normalise_telecom("email", " Amelie.D@Example.ORG "), "amelie.d@example.org");
  EXPECT_EQ(normalise_telecom("", "X@Y.org"), "x@y.org");
  EXPECT_EQ(normalise_telecom("url", "https://Example.org/A"), "https://Example.org/A");
}

TEST(IndexEntries, Patient) {
  Resource r = must_parse(testing::kPatient);
  auto e = index_entries(r);
  auto name = values(e, "name");
  for (const char* v : {"d", "du", "dupont", "l", "lefevre", "a", "amelie", "z", "zoe"})
    EXPECT_THAT(name, Contains(v)) << v;
  EXPECT_THAT(name, Not(Contains("mrs")));  // prefixes are not names
  EXPECT_THAT(name, Not(Contains("dupont lefevre")));
  EXPECT_EQ(values(e, "family"), (std::vector<std::string>{"d", "du", "dup", "dupo", "dupon", "dupont", "l", "le",
                                                            "lef", "lefe", "lefev", "lefevr", "lefevre"}));
  EXPECT_THAT(values(e, "given"), Contains("amelie"));
  EXPECT_THAT(values(e, "given"), Not(Contains("dupont")));
  EXPECT_EQ(values(e, "birthdate"), (std::vector<std::string>{"1980-05-21", "m:1980-05", "y:1980"}));
  EXPECT_EQ(values(e, "gender"), (std::vector<std::string>{"female"}));
  EXPECT_EQ(values(e, "identifier"),
            (std::vector<std::string>{"MRN-0042", "abc-123", "http://hospital.example.org|MRN-0042",
                                      "https://github.com/synthetichealth/synthea|abc-123"}));
  EXPECT_EQ(values(e, "telecom"), (std::vector<std::string>{"5558107203", "amelie.d@example.org",
                                                             "email|amelie.d@example.org", "phone|5558107203"}));
  EXPECT_EQ(values(e, "address-postalcode"), (std::vector<std::string>{"42 000"}));
  EXPECT_EQ(values(e, "address-city"), (std::vector<std::string>{"saint etienne"}));
  // No duplicates.
  auto sorted = e;
  std::sort(sorted.begin(), sorted.end(),
            [](const IndexEntry& a, const IndexEntry& b) { return std::tie(a.param, a.value) < std::tie(b.param, b.value); });
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end(),
                               [](const IndexEntry& a, const IndexEntry& b) {
                                 return a.param == b.param && a.value == b.value;
                               }),
            sorted.end());
}

TEST(IndexEntries, HostileSizesStayBounded) {
  std::string family;
  for (int i = 0; i < 10000; ++i) family += "w" + std::to_string(i) + " ";
  std::string ids;
  for (int i = 0; i < 20000; ++i) ids += (i ? "," : "") + std::string(R"({"value":"v)") + std::to_string(i % 10000) + "\"}";
  Resource r = must_parse(R"({"resourceType":"Patient","name":[{"family":")" + family + R"("}],"identifier":[)" + ids + "]}");
  auto e = index_entries(r);
  EXPECT_LE(values(e, "family").size(), 16u * kMaxPrefixChars);
  EXPECT_EQ(values(e, "identifier").size(), 10000u);  // duplicates removed
}

TEST(IndexEntries, ClinicalTypes) {
  auto cond = index_entries(must_parse(
      R"({"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p1"},)"
      R"("clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},)"
      R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"encounter-diagnosis"}]}],)"
      R"("code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"},{"code":"E11"}]},"onsetDateTime":"2020-01-01"})"));
  EXPECT_EQ(values(cond, "patient"), (std::vector<std::string>{"p1"}));
  EXPECT_EQ(values(cond, "subject"), (std::vector<std::string>{"p1"}));
  EXPECT_EQ(values(cond, "code"), (std::vector<std::string>{"44054006", "E11", "http://snomed.info/sct|44054006"}));
  EXPECT_THAT(values(cond, "status"), Contains("active"));
  EXPECT_THAT(values(cond, "category"), Contains("encounter-diagnosis"));
  EXPECT_TRUE(values(cond, "date").empty());  // dates are answered by the residual check

  auto enc = index_entries(must_parse(
      R"({"resourceType":"Encounter","id":"e","status":"finished","subject":{"reference":"Patient/p1"},)"
      R"("class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},)"
      R"("type":[{"coding":[{"system":"http://snomed.info/sct","code":"185349003"}]}]})"));
  EXPECT_EQ(values(enc, "status"), (std::vector<std::string>{"finished"}));
  EXPECT_EQ(values(enc, "class"),
            (std::vector<std::string>{"AMB", "http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB"}));
  EXPECT_THAT(values(enc, "code"), Contains("185349003"));

  auto imm = index_entries(must_parse(
      R"({"resourceType":"Immunization","id":"i","status":"completed","patient":{"reference":"Patient/p1"},)"
      R"("vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},"occurrenceDateTime":"2020"})"));
  EXPECT_EQ(values(imm, "patient"), (std::vector<std::string>{"p1"}));
  EXPECT_TRUE(values(imm, "subject").empty());
  EXPECT_THAT(values(imm, "code"), Contains("http://hl7.org/fhir/sid/cvx|140"));

  auto allergy = index_entries(must_parse(
      R"({"resourceType":"AllergyIntolerance","id":"a","patient":{"reference":"Patient/p1"},"category":["food"]})"));
  EXPECT_EQ(values(allergy, "category"), (std::vector<std::string>{"food"}));

  auto org = index_entries(must_parse(R"({"resourceType":"Organization","id":"o","name":"Clinic"})"));
  EXPECT_TRUE(org.empty());
  auto device = index_entries(must_parse(R"({"resourceType":"Device","id":"d","patient":{"reference":"Patient/p1"}})"));
  EXPECT_EQ(values(device, "patient"), (std::vector<std::string>{"p1"}));
}

}  // namespace
}  // namespace medvault::fhir
