// Helpers shared by the fhir tests (header only; not part of mv_fhir).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace medvault::fhir::testing {

// The shared/ folder beside the repository: $MEDVAULT_SHARED (set by ctest),
// else ../shared relative to the source tree.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("MEDVAULT_SHARED"); env && *env) return env;
  return std::filesystem::path(__FILE__).parent_path() / ".." / ".." / ".." / "shared";
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A made-up, Synthea-like Patient (no real person's data).
inline constexpr const char* kPatient = R"({"resourceType":"Patient","id":"p1",)"
    R"("meta":{"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},)"
    R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Generated</div>"},)"
    R"("extension":[{"url":"http://synthetichealth.github.io/synthea/disability-adjusted-life-years","valueDecimal":1.50}],)"
    R"("identifier":[{"system":"https://github.com/synthetichealth/synthea","value":"abc-123"},)"
    R"({"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},)"
    R"("system":"http://hospital.example.org","value":"MRN-0042"}],)"
    R"("name":[{"use":"official","family":"Dupont-Lefèvre","given":["Amélie","Zoë"],"prefix":["Mrs."]}],)"
    R"("telecom":[{"system":"phone","value":"555-810-7203","use":"home"},{"system":"email","value":"Amelie.D@Example.ORG"}],)"
    R"("gender":"female","birthDate":"1980-05-21",)"
    R"("address":[{"line":["12 Rue des Lilas"],"city":"Saint-Étienne","postalCode":"42 000","country":"FR"}],)"
    R"("multipleBirthInteger":2})";

}  // namespace medvault::fhir::testing
