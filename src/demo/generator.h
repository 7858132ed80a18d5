// Deterministic synthetic patients for the demo and for benchmarks
// (`medvault demo-data --patients N --seed S`).
//
// Output: compact FHIR R4 JSON resources, one per sink call, no newline.
//   1. Shared resources, once: the practice (Organization), then its staff
//      (four physicians and a nurse, Practitioner).
//   2. For each patient in turn: the Patient, then its AllergyIntolerances
//      and the Conditions diagnosed before its recorded history, then each
//      Encounter in date order followed by what happened there: Conditions
//      diagnosed, Observations (vital signs, laboratory), MedicationRequests,
//      Immunizations and a progress note (DocumentReference, text/plain in
//      the patient's language, base64).
// Every reference ("Patient/<id>", "Practitioner/<id>", "Encounter/<id>",
// "Organization/<id>", "Condition/<id>") points to a resource emitted
// earlier, so the stream can be imported in order.
//
// Determinism: the same Options give the same bytes on every machine and
// build (integer arithmetic only, no <random> distributions, no locale or
// time zone). Patient i depends only on (seed, i, resources_per_patient,
// now_ms), so the output for N patients is a prefix of the output for more.
//
// Content: patients alternate French (even index: French names, address in
// France, INS-NIR identifier) and English (UK or US address); every patient
// has an MRN "MV" + 8 digits (index + 1) in system kMrnSystem. Resources
// revealing a mental-health condition (depression, anxiety) carry
// meta.security PSY (v3-ActCode) and R (v3-Confidentiality). Dates and times
// are those of a practice in France (Europe/Paris offsets), all before
// Options::now_ms. Values with decimals are written with the intended digits
// (weight 72.0, glucose 0.90 g/L). All names, addresses, phone numbers and
// identifiers are fictional.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "common/result.h"

namespace medvault::demo {

inline constexpr int64_t kDefaultNowMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
inline constexpr std::string_view kMrnSystem = "https://medvault.example/mrn";
inline constexpr std::string_view kNirSystem = "urn:oid:1.2.250.1.213.1.4.8";

inline constexpr int kMaxResourcesPerPatient = 10'000;
inline constexpr int64_t kMinNowMs = 946'684'800'000;      // 2000-01-01T00:00:00Z
inline constexpr int64_t kMaxNowMs = 4'102'444'800'000;    // 2100-01-01T00:00:00Z

struct Options {
  uint64_t patients = 10;
  uint64_t seed = 1;
  // Approximate mean number of resources per patient, the Patient included
  // (each patient gets between about 0.7x and 1.3x). 1 gives bare Patients.
  int resources_per_patient = 100;
  // Reference "today": every date generated is before it.
  int64_t now_ms = kDefaultNowMs;
};

// Errc::invalid, naming the field, when resources_per_patient is outside
// [1, kMaxResourcesPerPatient] or now_ms outside [kMinNowMs, kMaxNowMs].
Status validate_options(const Options& options);

// Calls sink once per resource, in the order described above. The view is
// valid only during the call. REQUIRES validate_options(options).ok(); out of
// range values are clamped into range. Does not throw (an exception thrown by
// the sink propagates to the caller).
void generate(const Options& options, const std::function<void(std::string_view json)>& sink);

}  // namespace medvault::demo
