#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fhir/datetime.h"
#include "fhir/resource.h"
#include "fhir/schema.h"
#include "fhir/test_util.h"

namespace medvault::fhir {
namespace {

using testing::kPatient;

TEST(Schema, TablesAreConsistent) {
  EXPECT_TRUE(schema_unresolved_types().empty()) << schema_unresolved_types().front();
  EXPECT_TRUE(schema_missing_resources().empty()) << schema_missing_resources().front();
}

// Every resource of the Synthea exports in shared/data validates.
TEST(Validate, AcceptsEverySyntheaResource) {
  size_t files = 0, lines = 0;
  for (const char* set : {"synthea-10", "synthea-100"}) {
    auto dir = testing::shared_dir() / "data" / set;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      std::string name = f.path().filename().string();
      if (f.path().extension() != ".ndjson") continue;
      std::string type = name.substr(0, name.find('.'));
      if (!is_known_r4_type(type)) continue;  // log.ndjson: the export's log, not resources
      ++files;
      std::ifstream in(f.path());
      std::string line;
      size_t n = 0;
      while (std::getline(in, line)) {
        ++n;
        if (line.empty()) continue;
        ++lines;
        auto r = parse_resource(line);
        ASSERT_TRUE(r.ok()) << name << ":" << n << ": " << r.error().message;
        EXPECT_TRUE(is_supported_type(r->type)) << name << ":" << n;
        auto st = validate(*r);
        EXPECT_TRUE(st.ok()) << name << ":" << n << ": " << st.error().path << ": " << st.error().message;
        if (!st.ok()) return;
      }
    }
  }
  EXPECT_GE(files, 21u);
  EXPECT_GT(lines, 10000u);
}

Result<Resource> parse(std::string_view s) { return parse_resource(s); }

Status check(std::string_view json) {
  auto r = parse(json);
  if (!r.ok()) return r.take_error();
  return validate(*r);
}

struct Bad {
  const char* json;
  const char* path;
  const char* message;  // substring
};

class RejectsBadShape : public ::testing::TestWithParam<Bad> {};

TEST_P(RejectsBadShape, ReportsPath) {
  auto st = check(GetParam().json);
  ASSERT_FALSE(st.ok()) << GetParam().json;
  EXPECT_EQ(st.error().code, Errc::unprocessable);
  EXPECT_EQ(st.error().path, GetParam().path) << GetParam().json;
  EXPECT_NE(st.error().message.find(GetParam().message), std::string::npos) << st.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RejectsBadShape,
    ::testing::Values(
        Bad{R"({"resourceType":"Patient","birthDate":"1980-13-01"})", "Patient.birthDate", "invalid date"},
        Bad{R"({"resourceType":"Patient","birthDate":"1981-02-29"})", "Patient.birthDate", "invalid date"},
        Bad{R"({"resourceType":"Patient","birthDate":19800101})", "Patient.birthDate", "expected a string"},
        Bad{R"({"resourceType":"Patient","birthDate":"1980-01-01T10:00:00Z"})", "Patient.birthDate", "invalid date"},
        Bad{R"({"resourceType":"Patient","gender":"fe  male"})", "Patient.gender", "invalid code"},
        Bad{R"({"resourceType":"Patient","active":"true"})", "Patient.active", "true or false"},
        Bad{R"({"resourceType":"Patient","id":"bad id"})", "Patient.id", "invalid id"},
        Bad{R"({"resourceType":"Patient","ssn":"123"})", "Patient.ssn", "unknown element"},
        Bad{R"({"resourceType":"Patient","name":{"family":"X"}})", "Patient.name", "expected an array"},
        Bad{R"({"resourceType":"Patient","name":[]})", "Patient.name", "empty array"},
        Bad{R"({"resourceType":"Patient","name":[{"family":["X"]}]})", "Patient.name[0].family", "not an array"},
        Bad{R"({"resourceType":"Patient","name":[{"family":""}]})", "Patient.name[0].family", "empty string"},
        Bad{R"({"resourceType":"Patient","name":[{"given":["A",null]}]})", "Patient.name[0].given[1]", "null"},
        Bad{R"({"resourceType":"Patient","name":[{"nickname":"A"}]})", "Patient.name[0].nickname", "unknown"},
        Bad{R"({"resourceType":"Patient","gender":null})", "Patient.gender", "null value"},
        Bad{R"({"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2001"})",
            "Patient.deceased[x]", "more than one"},
        Bad{R"({"resourceType":"Patient","deceasedString":"yes"})", "Patient.deceasedString", "unknown element"},
        Bad{R"({"resourceType":"Patient","multipleBirthInteger":1.5})", "Patient.multipleBirthInteger",
            "invalid integer"},
        Bad{R"({"resourceType":"Patient","multipleBirthInteger":3000000000})", "Patient.multipleBirthInteger",
            "invalid integer"},
        Bad{R"({"resourceType":"Patient","telecom":[{"rank":0}]})", "Patient.telecom[0].rank", "positiveInt"},
        Bad{R"({"resourceType":"Patient","extension":[{"valueString":"x"}]})", "Patient.extension[0].url",
            "missing required"},
        Bad{R"({"resourceType":"Patient","extension":[{"url":"http://x","valueString":"x","extension":[{"url":"a","valueCode":"b"}]}]})",
            "Patient.extension[0]", "not both"},
        Bad{R"({"resourceType":"Patient","extension":[{"url":"http://x","valueFoo":"x"}]})",
            "Patient.extension[0].valueFoo", "unknown element"},
        Bad{R"({"resourceType":"Patient","_birthDate":"x"})", "Patient._birthDate", "object or an array"},
        Bad{R"({"resourceType":"Patient","meta":{"lastUpdated":"2020-01-01"}})", "Patient.meta.lastUpdated",
            "invalid instant"},
        Bad{R"({"resourceType":"Patient","meta":{"versionId":"1","profile":["a b"]}})", "Patient.meta.profile[0]",
            "invalid uri"},
        Bad{R"({"resourceType":"Patient","text":{"status":"generated"}})", "Patient.text.div", "missing required"},
        Bad{R"({"resourceType":"Patient","contained":[{"resourceType":"Foo","id":"a"}]})",
            "Patient.contained[0].resourceType", "unknown resourceType"},
        Bad{R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","nme":"x"}]})",
            "Patient.contained[0].nme", "unknown element"},
        Bad{R"({"resourceType":"Patient","managingOrganization":{"reference":"Organisation/1"}})",
            "Patient.managingOrganization.reference", "invalid reference"},
        Bad{R"({"resourceType":"Patient","managingOrganization":{"reference":"Organization/a b"}})",
            "Patient.managingOrganization.reference", "invalid reference"},
        Bad{R"({"resourceType":"Patient","managingOrganization":{"reference":"urn:uuid:1234"}})",
            "Patient.managingOrganization.reference", "invalid reference"},
        Bad{R"({"resourceType":"Patient","managingOrganization":{"reference":"Organization/1/_history/"}})",
            "Patient.managingOrganization.reference", "invalid reference"},
        Bad{R"({"resourceType":"Patient","address":[{"period":{"start":"2020-01-01T10:00"}}]})",
            "Patient.address[0].period.start", "invalid dateTime"},
        Bad{R"({"resourceType":"Patient","address":[{"period":{"start":"2020-01-01T10:00:00"}}]})",
            "Patient.address[0].period.start", "invalid dateTime"},
        Bad{R"({"resourceType":"Encounter","class":{"code":"AMB"}})", "Encounter.status", "missing required"},
        Bad{R"({"resourceType":"Encounter","status":"finished"})", "Encounter.class", "missing required"},
        Bad{R"({"resourceType":"Encounter","status":"finished","class":[{"code":"AMB"}]})", "Encounter.class",
            "not an array"},
        Bad{R"({"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"participant":[{"individual":{"reference":"Practitioner/"}}]})",
            "Encounter.participant[0].individual.reference", "invalid reference"},
        Bad{R"({"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"location":[{"status":"active"}]})",
            "Encounter.location[0].location", "missing required"},
        Bad{R"({"resourceType":"Condition","code":{"text":"x"}})", "Condition.subject", "missing required"},
        Bad{R"({"resourceType":"Observation","status":"final"})", "Observation.code", "missing required"},
        Bad{R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"5"}})",
            "Observation.valueQuantity.value", "invalid decimal"},
        Bad{R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":5},"valueString":"5"})",
            "Observation.value[x]", "more than one"},
        Bad{R"({"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}})",
            "MedicationRequest.medication[x]", "missing required"},
        Bad{R"({"resourceType":"AllergyIntolerance","code":{"text":"x"}})", "AllergyIntolerance.patient",
            "missing required"},
        Bad{R"({"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"x"},"patient":{"reference":"Patient/1"}})",
            "Immunization.occurrence[x]", "missing required"},
        Bad{R"({"resourceType":"Procedure","status":"completed"})", "Procedure.subject", "missing required"},
        Bad{R"({"resourceType":"DocumentReference","status":"current"})", "DocumentReference.content",
            "missing required"},
        Bad{R"({"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"data":"***"}}]})",
            "DocumentReference.content[0].attachment.data", "base64"},
        Bad{R"({"resourceType":"DocumentReference","status":"current","date":"2020-01-01","content":[{"attachment":{}}]})",
            "DocumentReference.date", "invalid instant"},
        Bad{R"({"resourceType":"Appointment","status":"booked"})", "Appointment.participant", "missing required"},
        Bad{R"({"resourceType":"Appointment","status":"booked","participant":[{"actor":{"reference":"Patient/1"}}]})",
            "Appointment.participant[0].status", "missing required"},
        Bad{R"({"resourceType":"Consent","status":"active","scope":{"text":"x"}})", "Consent.category",
            "missing required"},
        Bad{R"({"resourceType":"Location","position":{"longitude":1}})", "Location.position.latitude",
            "missing required"},
        Bad{R"({"resourceType":"Device","udiCarrier":[{"carrierHRF":5}]})", "Device.udiCarrier[0].carrierHRF",
            "expected a string"},
        Bad{R"({"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/1"}})",
            "Coverage.payor", "missing required"},
        Bad{R"({"resourceType":"Goal","lifecycleStatus":"active","description":{"text":"x"},"subject":{"reference":"Patient/1"},"statusDate":"2020-02-30"})",
            "Goal.statusDate", "invalid date"}));

struct Good {
  const char* json;
};
class AcceptsGoodShape : public ::testing::TestWithParam<Good> {};

TEST_P(AcceptsGoodShape, Validates) {
  auto st = check(GetParam().json);
  EXPECT_TRUE(st.ok()) << GetParam().json << " -> " << st.error().path << ": " << st.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AcceptsGoodShape,
    ::testing::Values(
        Good{kPatient},
        Good{R"({"resourceType":"Patient"})"},
        Good{R"({"resourceType":"Patient","birthDate":"1980","deceasedDateTime":"2020-02-29T23:59:60.123+14:00"})"},
        Good{R"({"resourceType":"Patient","birthDate":"2000-02-29","_birthDate":{"extension":[{"url":"http://x","valueCode":"unknown"}]}})"},
        Good{R"({"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"id":"g2"}]}]})"},
        Good{R"({"resourceType":"Patient","managingOrganization":{"reference":"Organization/o-1"}})"},
        Good{R"({"resourceType":"Patient","managingOrganization":{"reference":"Organization/o-1/_history/3"}})"},
        Good{R"({"resourceType":"Patient","managingOrganization":{"reference":"https://example.org/fhir/Organization/1"}})"},
        Good{R"({"resourceType":"Patient","managingOrganization":{"reference":"urn:uuid:0d3a1b5e-2b8c-4d1e-9f00-1234567890ab"}})"},
        Good{R"({"resourceType":"Patient","managingOrganization":{"reference":"urn:oid:1.2.840.10008"}})"},
        Good{R"({"resourceType":"Patient","managingOrganization":{"reference":"#org1"}})"},
        Good{R"({"resourceType":"Patient","managingOrganization":{"reference":"Organization?identifier=https://example.org|42"}})"},
        Good{R"({"resourceType":"Patient","managingOrganization":{"identifier":{"value":"42"}}})"},
        Good{R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"org1","name":"X"}],"managingOrganization":{"reference":"#org1"}})"},
        Good{R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/1"},"effectiveDateTime":"2020-01-01T10:00:00Z","valueQuantity":{"value":180.50,"unit":"cm","system":"http://unitsofmeasure.org","code":"cm"}})"},
        Good{R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"component":[{"code":{"text":"sys"},"valueQuantity":{"value":120}}]})"},
        Good{R"({"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"period":{"start":"2020-01-01T10:00:00-05:00","end":"2020-01-01T10:30:00-05:00"}})"},
        Good{R"({"resourceType":"Appointment","status":"booked","start":"2020-01-01T10:00:00Z","participant":[{"actor":{"reference":"Patient/1"},"status":"accepted"}]})"},
        Good{R"({"resourceType":"Consent","status":"active","scope":{"text":"x"},"category":[{"text":"y"}],"patient":{"reference":"Patient/1"},"provision":{"type":"deny","provision":[{"type":"permit"}]}})"},
        Good{R"({"resourceType":"Provenance","target":[{"reference":"Patient/1"}],"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/1"}}]})"},
        Good{R"({"resourceType":"ExplanationOfBenefit","status":"active","type":{"text":"x"},"use":"claim","patient":{"reference":"Patient/1"},"created":"2020","insurer":{"display":"I"},"provider":{"display":"P"},"outcome":"complete","insurance":[{"focal":true,"coverage":{"display":"C"}}],"item":[{"sequence":1,"anything":{"goes":true}}]})"},
        Good{R"({"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medicationReference":{"reference":"Medication/m1"},"dosageInstruction":[{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":1}}]}]})"}));

TEST(Validate, TypeLevelErrors) {
  Resource r;
  r.type = "Foo";
  r.json["resourceType"] = "Foo";
  EXPECT_EQ(validate(r).error().code, Errc::unprocessable);
  EXPECT_EQ(validate(r).error().message, "unknown resourceType");
  r.type = "Basic";
  r.json["resourceType"] = "Basic";
  EXPECT_NE(validate(r).error().message.find("not supported"), std::string::npos);
  r.type = "Patient";
  EXPECT_NE(validate(r).error().message.find("does not match"), std::string::npos);
}

TEST(DateTime, Formats) {
  EXPECT_TRUE(is_fhir_date("2020"));
  EXPECT_TRUE(is_fhir_date("2020-02"));
  EXPECT_TRUE(is_fhir_date("2020-02-29"));
  EXPECT_FALSE(is_fhir_date("2021-02-29"));
  EXPECT_FALSE(is_fhir_date("0000"));
  EXPECT_FALSE(is_fhir_date("20200101"));
  EXPECT_FALSE(is_fhir_date("2020-1-01"));
  EXPECT_FALSE(is_fhir_date("2020-01-01 "));
  EXPECT_TRUE(is_fhir_datetime("2015-02-07T13:28:17-05:00"));
  EXPECT_TRUE(is_fhir_datetime("2017-01-01T00:00:00.000Z"));
  EXPECT_TRUE(is_fhir_datetime("2017-01-01"));
  EXPECT_FALSE(is_fhir_datetime("2017-01-01T00:00:00"));  // a time needs a zone
  EXPECT_FALSE(is_fhir_datetime("2017-01-01T24:00:00Z"));
  EXPECT_FALSE(is_fhir_datetime("2017-01-01T10:00:00+15:00"));
  EXPECT_FALSE(is_fhir_datetime("2017-01-01T10:00:00.Z"));
  EXPECT_TRUE(is_fhir_instant("2017-01-01T10:00:00+14:00"));
  EXPECT_FALSE(is_fhir_instant("2017-01-01"));
  EXPECT_TRUE(is_fhir_time("10:00:00"));
  EXPECT_TRUE(is_fhir_time("10:00:00.5"));
  EXPECT_FALSE(is_fhir_time("10:00"));
  EXPECT_FALSE(is_fhir_time("10:00:00Z"));
}

TEST(DateTime, Ranges) {
  auto y = parse_time_range("2021");
  ASSERT_TRUE(y);
  EXPECT_EQ(y->begin_ms, 1609459200000);
  EXPECT_EQ(y->end_ms - y->begin_ms, 365LL * 86400000);
  auto m = parse_time_range("2020-02");
  EXPECT_EQ(m->end_ms - m->begin_ms, 29LL * 86400000);
  auto t = parse_time_range("2021-01-01T01:00:00+01:00");
  EXPECT_EQ(t->begin_ms, 1609459200000);
  EXPECT_EQ(t->end_ms, 1609459201000);
  auto ms = parse_time_range("2021-01-01T00:00:00.25Z");
  EXPECT_EQ(ms->begin_ms, 1609459200250);
  EXPECT_EQ(ms->end_ms, 1609459200251);
  auto minute = parse_time_range("2021-01-01T00:00");  // search values may omit seconds and zone
  EXPECT_EQ(minute->end_ms - minute->begin_ms, 60000);
  EXPECT_FALSE(parse_time_range("2021-01-01T00"));
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
}

}  // namespace
}  // namespace medvault::fhir
