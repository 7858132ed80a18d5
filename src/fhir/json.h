// JSON for FHIR resources, keeping numbers exactly as written.
//
// FHIR decimals keep their precision (1.50 stays 1.50), so numbers are never
// turned into doubles on the path that writes stored or served bytes. The
// parser here (a boost::json::basic_parser handler) builds a boost::json::value
// in which every JSON number is a string holding the number's original text,
// prefixed with the byte 0xFF. Such a string cannot come from input: the parser
// rejects invalid UTF-8, and 0xFF never occurs in UTF-8. serialize() writes
// those strings back as bare numbers. Use is_number()/number_text()/
// make_number() instead of boost::json's own number accessors.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace medvault::fhir {

struct ParseLimits {
  size_t max_bytes = 16 * 1024 * 1024;  // whole document
  size_t max_depth = 64;                // nesting of objects and arrays
  size_t max_array = 100'000;           // elements of one array
  size_t max_string = 8 * 1024 * 1024;  // bytes of one string
};

// Parses one JSON document. Errors are Errc::invalid (malformed JSON, invalid
// UTF-8, duplicate keys, trailing data, nesting or array limits) or
// Errc::too_large, with a message that names the byte offset but never
// quotes the input.
Result<boost::json::value> parse_json(std::string_view text, const ParseLimits& limits = {});

// Compact serialisation; numbers are written with their original text.
// The object overloads serialise a resource's JSON without first copying
// it into a boost::json::value.
std::string serialize(const boost::json::value& v);
std::string serialize(const boost::json::object& o);
void serialize_to(const boost::json::value& v, std::string& out);
void serialize_to(const boost::json::object& o, std::string& out);

bool is_number(const boost::json::value& v);
// Original text of a number, e.g. "1.50". REQUIRES is_number(v).
std::string_view number_text(const boost::json::value& v);
boost::json::value make_number(std::string_view text);  // REQUIRES valid JSON number text
std::optional<long long> as_integer(const boost::json::value& v);  // integral numbers only

// The string value of v if it is a (non-number) string.
std::optional<std::string_view> as_string(const boost::json::value& v);

}  // namespace medvault::fhir
