// Word lists and clinical code tables of the demo generator (module-private).
//
// Everything here is fictional or public terminology: names are common first
// and last names, addresses are real cities with invented street numbers,
// phone numbers come from ranges reserved for fiction (ARCEP's blocks for
// audiovisual works in France, Ofcom's 07700 900xxx, the US 555-01xx), and
// e-mail domains are the RFC 2606 example domains.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace medvault::demo::vocab {

using Words = std::span<const std::string_view>;

Words french_male_given();
Words french_female_given();
Words french_family();
Words english_male_given();
Words english_female_given();
Words english_family();

struct FrenchCity {
  std::string_view name;
  std::string_view postal;  // full code, or a prefix when districts > 0
  int districts;            // Paris 75001..75020: prefix "750", districts 20
  std::string_view phone_block;  // fictional landline block, e.g. "1 99 00"
};
std::span<const FrenchCity> french_cities();
Words french_street_types();  // "rue", "avenue", ...
Words french_street_names();  // "de la République", ...

struct UkCity {
  std::string_view name;
  std::string_view area;  // postcode area letters, "LS"
  int first_district;
  int last_district;
};
std::span<const UkCity> uk_cities();
Words uk_streets();

struct UsCity {
  std::string_view name;
  std::string_view state;
  std::string_view zip3;
  std::string_view area_code;
};
std::span<const UsCity> us_cities();
Words us_streets();

// ---------------------------------------------------------------- clinical

struct Code {
  std::string_view system;
  std::string_view code;
  std::string_view display;
};

inline constexpr std::string_view kSnomed = "http://snomed.info/sct";
inline constexpr std::string_view kLoinc = "http://loinc.org";
inline constexpr std::string_view kRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm";
inline constexpr std::string_view kCvx = "http://hl7.org/fhir/sid/cvx";
inline constexpr std::string_view kUcum = "http://unitsofmeasure.org";

enum class Med : uint8_t {
  lisinopril, amlodipine, hydrochlorothiazide, metformin, fluticasone_inhaler,
  albuterol_inhaler, sertraline, simvastatin, atorvastatin, levothyroxine,
  acetaminophen, ibuprofen, amoxicillin, nitrofurantoin, penicillin_v, warfarin,
  none,
};

struct Medication {
  Code code;
  std::string_view label_en;
  std::string_view label_fr;
  std::string_view dosage_en;  // dosageInstruction.text
  std::string_view dosage_fr;
  int per_day;     // timing.repeat.frequency per 1 d
  bool as_needed;  // asNeededBoolean
  int course_days; // 0: long-term treatment, else a short course
};
const Medication& medication(Med m);

enum class Cond : uint8_t {
  // long-term conditions
  hypertension, diabetes_type2, prediabetes, asthma, depression, anxiety,
  hyperlipidemia, hypothyroidism, knee_osteoarthritis, migraine, gerd,
  atopic_dermatitis, copd, atrial_fibrillation, low_back_pain,
  // acute episodes, resolved within days
  pharyngitis, viral_sinusitis, acute_bronchitis, otitis_media, urinary_infection,
  ankle_sprain, covid19, strep_throat,
  count,
};
inline constexpr int kChronicCount = static_cast<int>(Cond::pharyngitis);
inline constexpr int kCondCount = static_cast<int>(Cond::count);

struct ConditionKind {
  Code code;
  std::string_view label_en;
  std::string_view label_fr;
  bool chronic;
  bool sensitive;  // mental health: labelled PSY / restricted
  int min_age;     // years
  // Chronic: probability (per mille) of having it by age band
  // <18, 18-39, 40-59, 60+. Acute: relative weight per band.
  int rate[4];
  Med meds[3];  // chronic: one of these is the treatment; acute: the one
  Med also;     // prescribed together with the treatment (asthma reliever)
};
const ConditionKind& condition(Cond c);

struct AllergyKind {
  Code code;
  std::string_view label_en;
  std::string_view label_fr;
  std::string_view category;  // food | medication | environment
  Code reaction;
};
std::span<const AllergyKind> allergies();

enum class Vaccine : uint8_t { influenza, covid19, td, pneumococcal, dtap, ipv, mmr, varicella, count };
struct VaccineKind {
  Code code;
  std::string_view label_fr;
};
const VaccineKind& vaccine(Vaccine v);

enum class Visit : uint8_t { checkup, problem, symptom, follow_up, well_child, telemedicine, count };
struct VisitKind {
  Code code;
  std::string_view label_en;
  std::string_view label_fr;
  bool virtual_visit;  // class VR rather than AMB; no vital signs
};
const VisitKind& visit(Visit v);

// Sentences for progress notes. French ones may hold "{P}" (Le patient /
// La patiente) and "{e}" (feminine agreement: "" or "e").
struct Sentence {
  std::string_view en;
  std::string_view fr;
  bool needs_treatment = false;  // only for patients on a treatment
  bool adult_only = false;       // work, smoking...: not for children
};
std::span<const Sentence> note_subjective();
std::span<const Sentence> note_plan();

}  // namespace medvault::demo::vocab
