// Structured logs of the HTTP server: one JSON object per line on stderr.
// Callers pass fields from fixed vocabularies (event names, route templates,
// statuses, request ids, error messages that by contract hold no patient
// data); never a raw URL, header value or body.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace medvault::http::log {

enum class Level { info, warn, error };

// Writes {"ts":..., "level":..., <fields>} as one line, at once. Thread-safe.
void event(Level level, boost::json::object fields);

// The same for a request's line (event "request"), which may wait up to a
// second in a buffer with the others: one write for many requests.
void request(boost::json::object fields);

// Writes what waits (before the process stops).
void flush();

// Writes the line exactly as given (the listening line that tests parse).
void raw(std::string_view line);

}  // namespace medvault::http::log
