// Fuzzes the path every imported or posted resource takes: parse_resource,
// validate, index_entries, patient_of, set_meta and serialize, and checks
// that serialize() output parses back to the same bytes and the same
// verdicts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/json.h"
#include "fhir/resource.h"

using namespace medvault::fhir;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_array = 10'000;
  auto r = parse_resource(text, limits);
  if (!r.ok()) return 0;
  auto verdict = validate(*r);
  auto entries = index_entries(*r);
  auto patient = patient_of(*r);

  // Minified output is never longer than the input, so the same limits hold.
  std::string out = serialize(r->json);
  check(out.size() <= size);
  auto again = parse_resource(out, limits);
  check(again.ok());
  check(serialize(again->json) == out);
  check(again->type == r->type && again->id == r->id);
  auto verdict2 = validate(*again);
  check(verdict.ok() == verdict2.ok());
  if (!verdict.ok()) check(verdict.error().path == verdict2.error().path);
  auto entries2 = index_entries(*again);
  check(entries.size() == entries2.size());
  for (size_t i = 0; i < entries.size(); ++i)
    check(entries[i].param == entries2[i].param && entries[i].value == entries2[i].value);
  check(patient_of(*again) == patient);

  // The server stamps every stored version.
  set_meta(*again, "fuzz-id", 7, "2024-01-02T03:04:05.678Z");
  std::string stamped = serialize(again->json);
  auto reparsed = parse_json(stamped);
  check(reparsed.ok());
  if (verdict.ok()) check(validate(*again).ok());
  return 0;
}
