#include "demo/generator.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fhir/datetime.h"
#include "fhir/json.h"
#include "fhir/resource.h"

namespace medvault::demo {
namespace {

namespace json = boost::json;

std::vector<std::string> generate_lines(const Options& o) {
  std::vector<std::string> lines;
  generate(o, [&](std::string_view j) { lines.emplace_back(j); });
  return lines;
}

Options small(uint64_t patients, uint64_t seed = 1, int per_patient = 100) {
  Options o;
  o.patients = patients;
  o.seed = seed;
  o.resources_per_patient = per_patient;
  return o;
}

// One generated data set shared by the read-only tests (generation is
// deterministic, so sharing it hides nothing).
const std::vector<std::string>& sample() {
  static const std::vector<std::string> lines = generate_lines(small(60, 2024));
  return lines;
}

json::object parse_object(const std::string& line) {
  json::value v = json::parse(line);
  return v.as_object();
}

std::string_view str(const json::value& v) {
  const json::string& s = v.as_string();
  return {s.data(), s.size()};
}

// Every string found under a key named `key`, anywhere in v.
void collect(const json::value& v, std::string_view key, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& kv : v.as_object()) {
      if (kv.key() == key && kv.value().is_string()) out.emplace_back(str(kv.value()));
      collect(kv.value(), key, out);
    }
  } else if (v.is_array()) {
    for (const auto& e : v.as_array()) collect(e, key, out);
  }
}

void collect_strings(const json::value& v, std::vector<std::string>& out) {
  if (v.is_string()) out.emplace_back(str(v));
  else if (v.is_object())
    for (const auto& kv : v.as_object()) collect_strings(kv.value(), out);
  else if (v.is_array())
    for (const auto& e : v.as_array()) collect_strings(e, out);
}

bool has_security(const json::object& r, std::string_view code) {
  const json::value* meta = r.if_contains("meta");
  if (meta == nullptr) return false;
  for (const auto& c : meta->at("security").as_array())
    if (str(c.at("code")) == code) return true;
  return false;
}

// Shape check without std::regex (far too slow in Debug builds for
// thousands of strings): '9' is any digit, 'h' a lower-case hex digit, '?'
// any character; everything else matches itself.
bool shaped(std::string_view s, std::string_view pattern) {
  if (s.size() != pattern.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (pattern[i]) {
      case '9': if (c < '0' || c > '9') return false; break;
      case 'h': if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false; break;
      case '?': break;
      default: if (c != pattern[i]) return false;
    }
  }
  return true;
}

bool is_uuid(std::string_view s) {
  return shaped(s, "hhhhhhhh-hhhh-4hhh-?hhh-hhhhhhhhhhhh") &&
         std::string_view("89ab").find(s[19]) != std::string_view::npos;
}

std::string decode_base64(std::string_view b64) {
  std::string bin(b64.size(), '\0');
  size_t len = 0;
  EXPECT_EQ(sodium_base642bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), b64.data(), b64.size(),
                              nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL),
            0);
  bin.resize(len);
  return bin;
}

// ----------------------------------------------------------- determinism

TEST(DemoGenerator, SameOptionsGiveSameBytes) {
  EXPECT_EQ(generate_lines(small(25, 7)), generate_lines(small(25, 7)));
}

TEST(DemoGenerator, DifferentSeedsGiveDifferentData) {
  const auto a = generate_lines(small(10, 7));
  const auto b = generate_lines(small(10, 8));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  std::set<std::string> ids_a;
  for (const auto& l : a) ids_a.insert(std::string(str(parse_object(l).at("id"))));
  for (const auto& l : b) EXPECT_EQ(ids_a.count(std::string(str(parse_object(l).at("id")))), 0u);
}

TEST(DemoGenerator, FewerPatientsIsAPrefixOfMore) {
  const auto few = generate_lines(small(5, 3));
  const auto more = generate_lines(small(12, 3));
  ASSERT_LT(few.size(), more.size());
  EXPECT_TRUE(std::equal(few.begin(), few.end(), more.begin()));
}

TEST(DemoGenerator, ReferenceDateChangesTheDates) {
  Options later = small(3, 5);
  later.now_ms += 365LL * 86'400'000;
  EXPECT_NE(generate_lines(small(3, 5)), generate_lines(later));
}

// ---------------------------------------------------------------- counts

TEST(DemoGenerator, EmitsThePracticeThenEachPatientFirst) {
  const auto& lines = sample();
  ASSERT_GT(lines.size(), 6u);
  EXPECT_EQ(str(parse_object(lines[0]).at("resourceType")), "Organization");
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(str(parse_object(lines[i]).at("resourceType")), "Practitioner");
  EXPECT_EQ(str(parse_object(lines[6]).at("resourceType")), "Patient");
  // Every non-shared resource belongs to the Patient emitted last before it.
  std::string current;
  for (size_t i = 6; i < lines.size(); ++i) {
    const json::object r = parse_object(lines[i]);
    if (str(r.at("resourceType")) == "Patient") {
      current = "Patient/" + std::string(str(r.at("id")));
      continue;
    }
    std::vector<std::string> refs;
    collect(r, "reference", refs);
    bool mine = false;
    for (const auto& ref : refs) {
      EXPECT_FALSE(ref.starts_with("Patient/") && ref != current) << lines[i];
      mine = mine || ref == current;
    }
    EXPECT_TRUE(mine) << lines[i];
  }
}

TEST(DemoGenerator, PatientCountIsExactAndHalfAreFrench) {
  for (uint64_t n : {0u, 1u, 7u, 40u}) {
    const auto lines = generate_lines(small(n, 11, 20));
    size_t patients = 0, french = 0;
    for (const auto& l : lines) {
      const json::object r = parse_object(l);
      if (str(r.at("resourceType")) != "Patient") continue;
      ++patients;
      if (str(r.at("address").at(0).at("country")) == "FR") ++french;
    }
    EXPECT_EQ(patients, n);
    EXPECT_EQ(french, (n + 1) / 2);
  }
}

TEST(DemoGenerator, MeanResourcesPerPatientIsNearTheTarget) {
  for (int target : {100, 30}) {
    const uint64_t n = 300;
    const auto lines = generate_lines(small(n, 99, target));
    const double mean = static_cast<double>(lines.size() - 6) / static_cast<double>(n);
    EXPECT_NEAR(mean, target, target * 0.08) << "target " << target;
  }
  // 1: bare Patients after the practice.
  EXPECT_EQ(generate_lines(small(9, 1, 1)).size(), 6u + 9u);
}

TEST(DemoGenerator, CoversTheResourceTypesTheDemoNeeds) {
  std::map<std::string, size_t> types;
  for (const auto& l : sample()) ++types[std::string(str(parse_object(l).at("resourceType")))];
  for (const char* t : {"Organization", "Practitioner", "Patient", "Encounter", "Condition", "Observation",
                        "MedicationRequest", "AllergyIntolerance", "Immunization", "DocumentReference"})
    EXPECT_GT(types[t], 0u) << t;
  EXPECT_EQ(types["Practitioner"], 5u);
  EXPECT_EQ(types["Organization"], 1u);
}

// ------------------------------------------------------------- structure

TEST(DemoGenerator, EveryLineIsOneJsonObjectWithTypeAndUniqueId) {
  std::set<std::string> ids;
  for (const auto& l : sample()) {
    EXPECT_EQ(l.find('\n'), std::string::npos);
    json::value v;
    ASSERT_NO_THROW(v = json::parse(l)) << l;
    ASSERT_TRUE(v.is_object());
    const json::object& r = v.as_object();
    ASSERT_TRUE(r.contains("resourceType") && r.at("resourceType").is_string());
    ASSERT_TRUE(r.contains("id") && r.at("id").is_string());
    const std::string id(str(r.at("id")));
    EXPECT_TRUE(fhir::is_valid_id(id)) << id;
    EXPECT_TRUE(is_uuid(id)) << id;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
  }
}

TEST(DemoGenerator, ReferencesPointToResourcesEmittedBefore) {
  const std::set<std::string> known_types = {"Patient", "Practitioner", "Encounter", "Organization", "Condition"};
  std::set<std::string> emitted;
  size_t checked = 0;
  for (const auto& l : sample()) {
    const json::object r = parse_object(l);
    std::vector<std::string> refs;
    collect(r, "reference", refs);
    for (const auto& ref : refs) {
      const size_t slash = ref.find('/');
      ASSERT_NE(slash, std::string::npos) << ref;
      EXPECT_TRUE(known_types.count(ref.substr(0, slash)) == 1 && is_uuid(std::string_view(ref).substr(slash + 1)))
          << ref;
      EXPECT_EQ(emitted.count(ref), 1u) << "dangling or forward reference " << ref;
      ++checked;
    }
    emitted.insert(std::string(str(r.at("resourceType"))) + "/" + std::string(str(r.at("id"))));
  }
  EXPECT_GT(checked, 1000u);
}

TEST(DemoGenerator, EveryResourcePassesFhirValidation) {
  for (const auto& l : sample()) {
    auto parsed = fhir::parse_resource(l);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message << "\n" << l;
    const Status s = fhir::validate(*parsed);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message + " at " + s.error().path) << "\n" << l;
  }
}

TEST(DemoGenerator, DatesAreWellFormedAndBeforeTheReferenceDate) {
  size_t datetimes = 0;
  for (const auto& l : sample()) {
    std::vector<std::string> strings;
    collect_strings(json::parse(l), strings);
    for (const auto& s : strings) {
      if (s.size() < 10 || !shaped(std::string_view(s).substr(0, 10), "9999-99-99")) continue;
      ASSERT_TRUE(fhir::is_fhir_datetime(s)) << s;
      if (s.size() > 10) {
        EXPECT_TRUE(shaped(s, "9999-99-99T99:99:99+0?:00") && (s[21] == '1' || s[21] == '2')) << s;
        ++datetimes;
      }
      const auto range = fhir::parse_time_range(s);
      ASSERT_TRUE(range.has_value()) << s;
      EXPECT_LE(range->end_ms, kDefaultNowMs) << s;
    }
  }
  EXPECT_GT(datetimes, 1000u);
}

TEST(DemoGenerator, EncounterPeriodsUseParisSummerAndWinterTime) {
  bool summer = false, winter = false;
  for (const auto& l : sample()) {
    const json::object r = parse_object(l);
    if (str(r.at("resourceType")) != "Encounter") continue;
    const std::string start(str(r.at("period").at("start")));
    const int month = std::stoi(start.substr(5, 2));
    if (month >= 5 && month <= 9) {
      EXPECT_TRUE(start.ends_with("+02:00")) << start;
      summer = true;
    }
    if (month == 12 || month <= 2) {
      EXPECT_TRUE(start.ends_with("+01:00")) << start;
      winter = true;
    }
    EXPECT_LT(std::string(str(r.at("period").at("start"))), std::string(str(r.at("period").at("end"))));
  }
  EXPECT_TRUE(summer && winter);
}

// --------------------------------------------------------------- content

TEST(DemoGenerator, DecimalsKeepTheirIntendedDigits) {
  // Numbers are read with the fhir parser, which keeps each number's text.
  size_t trailing_zero = 0, french_glucose = 0;
  for (const auto& l : sample()) {
    auto parsed = fhir::parse_resource(l);
    ASSERT_TRUE(parsed.ok());
    const json::object& r = parsed->json;
    if (parsed->type != "Observation" || !r.contains("valueQuantity")) continue;
    const json::value& value = r.at("valueQuantity").at("value");
    ASSERT_TRUE(fhir::is_number(value));
    const std::string text(fhir::number_text(value));
    EXPECT_NE(l.find("\"value\":" + text + ","), std::string::npos) << text;
    if (text.find('.') != std::string::npos && text.back() == '0') ++trailing_zero;
    const std::string unit(*fhir::as_string(r.at("valueQuantity").at("unit")));
    if (unit == "g/L") {
      EXPECT_TRUE(shaped(text, "9.99")) << text;
      ++french_glucose;
    }
  }
  EXPECT_GT(trailing_zero, 10u);  // e.g. 72.0 kg, 1.10 g/L
  EXPECT_GT(french_glucose, 0u);
}

TEST(DemoGenerator, PatientsHaveMrnAndFrenchOnesAValidNir) {
  size_t nirs = 0;
  std::set<std::string> mrns;
  for (const auto& l : sample()) {
    const json::object r = parse_object(l);
    if (str(r.at("resourceType")) != "Patient") continue;
    const bool french = str(r.at("address").at(0).at("country")) == "FR";
    bool has_nir = false;
    for (const auto& ident : r.at("identifier").as_array()) {
      const std::string system(str(ident.at("system")));
      const std::string value(str(ident.at("value")));
      if (system == kMrnSystem) {
        EXPECT_TRUE(shaped(value, "MV99999999")) << value;
        EXPECT_TRUE(mrns.insert(value).second);
      } else if (system == kNirSystem) {
        has_nir = true;
        ASSERT_TRUE(shaped(value, "999999999999999") && (value[0] == '1' || value[0] == '2')) << value;
        const uint64_t body = std::stoull(value.substr(0, 13));
        EXPECT_EQ(97 - body % 97, std::stoull(value.substr(13))) << value;
        EXPECT_EQ(value[0], str(r.at("gender")) == "female" ? '2' : '1');
        const std::string birth(str(r.at("birthDate")));
        EXPECT_EQ(value.substr(1, 2), birth.substr(2, 2));
        EXPECT_EQ(value.substr(3, 2), birth.substr(5, 2));
        ++nirs;
      }
    }
    EXPECT_EQ(has_nir, french);
  }
  EXPECT_EQ(mrns.size(), 60u);
  EXPECT_EQ(nirs, 30u);
}

TEST(DemoGenerator, NamesIncludeAccentedFrenchNames) {
  std::string all;
  for (const auto& l : generate_lines(small(400, 5, 1))) all += l;
  // UTF-8 passes through unescaped.
  EXPECT_NE(all.find("\u00e9"), std::string::npos);  // é
  EXPECT_NE(all.find("\u00e8"), std::string::npos);  // è
  EXPECT_EQ(all.find("\\u00"), std::string::npos);
}

TEST(DemoGenerator, MentalHealthResourcesAreLabelledSensitive) {
  size_t labelled_conditions = 0, labelled_others = 0;
  for (const auto& l : generate_lines(small(150, 31))) {
    const json::object r = parse_object(l);
    const std::string_view type = str(r.at("resourceType"));
    if (type == "Condition") {
      const std::string_view code = str(r.at("code").at("coding").at(0).at("code"));
      const bool mental = code == "35489007" || code == "197480006";
      EXPECT_EQ(has_security(r, "PSY"), mental) << l;
      EXPECT_EQ(has_security(r, "R"), mental) << l;
      labelled_conditions += mental ? 1 : 0;
    } else if (has_security(r, "PSY")) {
      EXPECT_TRUE(has_security(r, "R"));
      ++labelled_others;
    }
    if (type == "MedicationRequest" && r.at("medicationCodeableConcept").at("coding").at(0).at("code") == "312941") {
      EXPECT_TRUE(has_security(r, "PSY")) << "sertraline is prescribed for depression here";
    }
  }
  EXPECT_GT(labelled_conditions, 0u);
  EXPECT_GT(labelled_others, 0u);
}

TEST(DemoGenerator, NotesAreTextInThePatientsLanguage) {
  std::map<std::string, std::string> language;  // Patient/<id> -> fr | en
  size_t french = 0, english = 0;
  for (const auto& l : sample()) {
    const json::object r = parse_object(l);
    const std::string_view type = str(r.at("resourceType"));
    if (type == "Patient") {
      const std::string_view code = str(r.at("communication").at(0).at("language").at("coding").at(0).at("code"));
      language["Patient/" + std::string(str(r.at("id")))] = std::string(code.substr(0, 2));
    }
    if (type != "DocumentReference") continue;
    EXPECT_EQ(str(r.at("status")), "current");
    EXPECT_EQ(str(r.at("type").at("coding").at(0).at("code")), "11506-3");
    const json::value& att = r.at("content").at(0).at("attachment");
    EXPECT_EQ(str(att.at("contentType")), "text/plain; charset=utf-8");
    const std::string text = decode_base64(str(att.at("data")));
    ASSERT_FALSE(text.empty());
    EXPECT_TRUE(fhir::parse_json(json::serialize(json::value(text))).ok()) << "not valid UTF-8";
    const std::string lang = language.at(std::string(str(r.at("subject").at("reference"))));
    EXPECT_EQ(str(att.at("language")), lang);
    if (lang == "fr") {
      ++french;
      EXPECT_TRUE(text.find("Consultation") != std::string::npos || text.find("Examen") != std::string::npos ||
                  text.find("Téléconsultation") != std::string::npos)
          << text;
    } else {
      ++english;
      EXPECT_EQ(text.find("Consultation de"), std::string::npos) << text;
    }
  }
  EXPECT_GT(french, 10u);
  EXPECT_GT(english, 10u);
}

TEST(DemoGenerator, EncountersHaveClassTypeAndPerformer) {
  for (const auto& l : sample()) {
    const json::object r = parse_object(l);
    if (str(r.at("resourceType")) != "Encounter") continue;
    EXPECT_EQ(str(r.at("status")), "finished");
    const std::string_view cls = str(r.at("class").at("code"));
    EXPECT_TRUE(cls == "AMB" || cls == "VR") << cls;
    EXPECT_EQ(str(r.at("type").at(0).at("coding").at(0).at("system")), "http://snomed.info/sct");
    EXPECT_TRUE(str(r.at("participant").at(0).at("individual").at("reference")).starts_with("Practitioner/"));
    EXPECT_FALSE(r.contains("text"));
  }
}

// ---------------------------------------------------------------- options

TEST(DemoGenerator, ValidatesOptions) {
  EXPECT_TRUE(validate_options(Options{}).ok());
  Options o;
  o.resources_per_patient = 0;
  EXPECT_EQ(validate_options(o).error().code, Errc::invalid);
  o.resources_per_patient = kMaxResourcesPerPatient + 1;
  EXPECT_FALSE(validate_options(o).ok());
  o = Options{};
  o.now_ms = kMinNowMs - 1;
  EXPECT_FALSE(validate_options(o).ok());
  o.now_ms = kMaxNowMs + 1;
  EXPECT_FALSE(validate_options(o).ok());
}

TEST(DemoGenerator, OutOfRangeOptionsAreClampedNotFatal) {
  Options o = small(3, 1, -5);
  o.now_ms = -1;
  const auto lines = generate_lines(o);
  EXPECT_EQ(lines.size(), 6u + 3u);
  for (const auto& l : lines) EXPECT_NO_THROW(json::parse(l));
}

}  // namespace
}  // namespace medvault::demo
