// Structured logs of the HTTP server: one JSON object per line on stderr.
// Callers pass fields from fixed vocabularies (event names, route templates,
// statuses, request ids, error messages that by contract hold no patient
// data); never a raw URL, header value or body.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace medvault::http::log {

enum class Level { info, warn, error };

// Writes {"ts":..., "level":..., <fields>} as one line. Thread-safe.
void event(Level level, boost::json::object fields);

// Writes the line exactly as given (the listening line that tests parse).
void raw(std::string_view line);

}  // namespace medvault::http::log
