// Text normalisation shared by indexing (resource.cc) and search parsing
// (search.cc), so that a query value and an indexed value meet on the same
// bytes. normalise_text() itself is declared in fhir/resource.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace medvault::fhir {

// Longest prefix token indexed for a word, in code points.
inline constexpr size_t kMaxPrefixChars = 32;

// Words of an already normalised text (split on single spaces).
std::vector<std::string_view> split_words(std::string_view normalised);

// `word` cut to kMaxPrefixChars code points.
std::string_view cap_prefix(std::string_view word);

// A ContactPoint value as indexed: phone-like values (system phone, fax,
// sms or pager, or no/other system and only digits, spaces and + - ( ) .)
// keep their digits only; e-mail addresses (system email, or containing '@')
// are lower-cased; anything else is kept as given.
std::string normalise_telecom(std::string_view system, std::string_view value);

}  // namespace medvault::fhir
