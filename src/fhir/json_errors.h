// Internal to mv_fhir: fixed parts of parse_json() error messages that other
// files of the module recognise.
#pragma once

#include <string_view>

namespace medvault::fhir {

// Ends the message of a document cut short ("malformed JSON at byte N: ...");
// the import reader takes it as the sign of a multi-line JSON document.
inline constexpr std::string_view kIncompleteJson = "unexpected end of input";

}  // namespace medvault::fhir
