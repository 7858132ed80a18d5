// Internal to mv_fhir: the element tables behind validate(), exposed for tests.
#pragma once

#include <string>
#include <vector>

namespace medvault::fhir {

// Type names that the schema tables use but do not define (typos would make
// an element silently unchecked); empty when the tables are consistent.
std::vector<std::string> schema_unresolved_types();

// Every supported resource type has an element table.
std::vector<std::string> schema_missing_resources();

}  // namespace medvault::fhir
