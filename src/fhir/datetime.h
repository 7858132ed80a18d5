// FHIR R4 date, dateTime, instant and time values: format checks (the
// regular expressions of the R4 specification, plus calendar checks such as
// no 30 February) and conversion to the time range a value denotes.
//
// Hand-written rather than std::regex: these run for every date of every
// resource validated, and std::regex is orders of magnitude slower.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace medvault::fhir {

// YYYY, YYYY-MM or YYYY-MM-DD.
bool is_fhir_date(std::string_view s);
// A date, or YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm): seconds and zone are
// required once a time is given.
bool is_fhir_datetime(std::string_view s);
// YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm).
bool is_fhir_instant(std::string_view s);
// hh:mm:ss[.fff] (no zone).
bool is_fhir_time(std::string_view s);

// The half-open interval [begin_ms, end_ms) of UTC milliseconds since the
// Unix epoch that a date/dateTime/instant denotes at its precision:
// "2021" is the whole year, "2021-03-04T10:00:00Z" one second,
// "2021-03-04T10:00:00.250Z" one millisecond. Values without a zone
// (dates) are taken as UTC.
struct TimeRange {
  int64_t begin_ms = 0;
  int64_t end_ms = 0;
};
std::optional<TimeRange> parse_time_range(std::string_view s);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace medvault::fhir
