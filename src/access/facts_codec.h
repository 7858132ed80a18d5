// A compact JSON form of PatientFacts, for the vault's sealed per-patient
// facts summary (vault/access_facts.h, docs/architecture.md "Policy facts").
//
//   {"r":[{"k":"care-team","a":"Practitioner/1","s":"CareTeam/ct-1","f":ms,"t":ms}...],
//    "c":[{"s":"Consent/c-1","b":RULE,"x":[RULE...]}...]}
//   RULE = {"d":true,"a":[actors],"ro":[roles],"l":[labels],"p":[purposes],"f":ms,"t":ms}
//
// Members holding their default (unbounded window, empty list, "d" true) are
// left out. The patient id is not part of the text: the caller knows it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "access/policy.h"

namespace medvault::access {

std::string facts_to_json(const PatientFacts& facts);

// The facts of `patient` from facts_to_json's text; nullopt for anything
// else (garbled text, unknown relationship kind, wrong member types, more
// than kMaxFactsJson bytes). Unknown members are ignored.
inline constexpr size_t kMaxFactsJson = 4 << 20;
std::optional<PatientFacts> facts_from_json(std::string_view text, const std::string& patient);

}  // namespace medvault::access
