// Civil dates and FHIR date/dateTime text for the demo generator
// (module-private). Days are counted from 1970-01-01 (day 0), in integers, so
// the output does not depend on the machine's time zone or C library.
#pragma once

#include <cstdint>
#include <string>

namespace medvault::demo {

struct Ymd {
  int y;
  int m;  // 1..12
  int d;  // 1..31
};

// Howard Hinnant's days_from_civil / civil_from_days (public domain
// algorithms), valid over the whole proleptic Gregorian calendar.
constexpr int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

constexpr Ymd civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return Ymd{static_cast<int>(yoe + era * 400 + (m <= 2)), m, d};
}

// 0 = Sunday ... 6 = Saturday.
constexpr int weekday(int64_t z) {
  return static_cast<int>(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

constexpr int64_t kMsPerDay = 86'400'000;

constexpr int64_t day_of_ms(int64_t ms) {
  return ms >= 0 ? ms / kMsPerDay : -((-ms + kMsPerDay - 1) / kMsPerDay);
}

// UTC offset in minutes of Europe/Paris on `day`, for times of day between
// 04:00 and 23:00 (the transitions happen at 02:00/03:00 local time): +02:00
// from the last Sunday of March to the day before the last Sunday of October,
// +01:00 otherwise. This is the EU rule in force since 1996; the practice's
// encounters are all recorded with it.
constexpr int paris_offset_minutes(int64_t day) {
  const int y = civil_from_days(day).y;
  const int64_t march31 = days_from_civil(y, 3, 31);
  const int64_t october31 = days_from_civil(y, 10, 31);
  const int64_t start = march31 - weekday(march31);
  const int64_t end = october31 - weekday(october31);
  return (day >= start && day < end) ? 120 : 60;
}

inline void append_digits(std::string& out, int64_t v, int width) {
  char buf[24];
  int n = 0;
  uint64_t u = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  while (n < width) buf[n++] = '0';
  if (v < 0) out.push_back('-');
  while (n > 0) out.push_back(buf[--n]);
}

// FHIR date "YYYY-MM-DD".
inline void append_date(std::string& out, int64_t day) {
  const Ymd c = civil_from_days(day);
  append_digits(out, c.y, 4);
  out.push_back('-');
  append_digits(out, c.m, 2);
  out.push_back('-');
  append_digits(out, c.d, 2);
}

// FHIR dateTime/instant with seconds and the Paris offset:
// "YYYY-MM-DDThh:mm:ss+01:00". `minute` counts from local midnight.
inline void append_paris_datetime(std::string& out, int64_t day, int minute, int second = 0) {
  append_date(out, day);
  out.push_back('T');
  append_digits(out, minute / 60, 2);
  out.push_back(':');
  append_digits(out, minute % 60, 2);
  out.push_back(':');
  append_digits(out, second, 2);
  const int offset = paris_offset_minutes(day);
  out.push_back('+');
  append_digits(out, offset / 60, 2);
  out.push_back(':');
  append_digits(out, offset % 60, 2);
}

}  // namespace medvault::demo
