#include "fhir/datetime.h"

namespace medvault::fhir {
namespace {

struct Parsed {
  int year = 0;
  int month = 0;  // 0: absent
  int day = 0;    // 0: absent
  bool has_time = false;
  int hour = 0, minute = 0, second = 0;
  bool has_seconds = false;
  int millis = 0;
  bool has_fraction = false;
  bool has_zone = false;
  int zone_minutes = 0;  // offset east of UTC
};

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// hh:mm[:ss[.f+]], from pos; returns the position after it or npos.
size_t parse_clock(std::string_view s, size_t pos, Parsed& p, bool seconds_optional) {
  if (!digits(s, pos, 2, p.hour) || p.hour > 23) return std::string_view::npos;
  if (pos + 2 >= s.size() || s[pos + 2] != ':') return std::string_view::npos;
  if (!digits(s, pos + 3, 2, p.minute) || p.minute > 59) return std::string_view::npos;
  pos += 5;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, p.second) || p.second > 60) return std::string_view::npos;
    p.has_seconds = true;
    pos += 3;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t start = pos;
      int ms = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (pos - start < 3) ms = ms * 10 + (s[pos] - '0');
        ++pos;
      }
      if (pos == start) return std::string_view::npos;
      for (size_t n = pos - start; n < 3; ++n) ms *= 10;
      p.millis = ms;
      p.has_fraction = true;
    }
  } else if (!seconds_optional) {
    return std::string_view::npos;
  }
  return pos;
}

struct Rules {
  bool time_required = false;   // instant
  bool zone_required = true;    // a time needs a zone (dateTime, instant)
  bool seconds_required = true;
};

bool parse(std::string_view s, const Rules& rules, Parsed& p) {
  if (!digits(s, 0, 4, p.year) || p.year == 0) return false;
  size_t pos = 4;
  if (pos < s.size()) {
    if (s[pos] != '-' || !digits(s, pos + 1, 2, p.month) || p.month < 1 || p.month > 12) return false;
    pos += 3;
  }
  if (p.month && pos < s.size()) {
    if (s[pos] != '-' || !digits(s, pos + 1, 2, p.day) || p.day < 1 ||
        p.day > days_in_month(p.year, p.month))
      return false;
    pos += 3;
  }
  if (p.day && pos < s.size()) {
    if (s[pos] != 'T') return false;
    pos = parse_clock(s, pos + 1, p, !rules.seconds_required);
    if (pos == std::string_view::npos) return false;
    p.has_time = true;
    if (pos < s.size()) {
      if (s[pos] == 'Z') {
        ++pos;
      } else if (s[pos] == '+' || s[pos] == '-') {
        int hh = 0, mm = 0;
        if (!digits(s, pos + 1, 2, hh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !digits(s, pos + 4, 2, mm) || mm > 59 || hh > 14 || (hh == 14 && mm != 0))
          return false;
        p.zone_minutes = (hh * 60 + mm) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
      } else {
        return false;
      }
      p.has_zone = true;
    }
  }
  if (pos != s.size()) return false;
  if (rules.time_required && !p.has_time) return false;
  if (p.has_time && rules.zone_required && !p.has_zone) return false;
  return true;
}

constexpr int64_t kDayMs = 86'400'000;

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // H. Hinnant's algorithm, proleptic Gregorian calendar.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool is_fhir_date(std::string_view s) {
  Parsed p;
  return parse(s, Rules{}, p) && !p.has_time;
}

bool is_fhir_datetime(std::string_view s) {
  Parsed p;
  return parse(s, Rules{}, p);
}

bool is_fhir_instant(std::string_view s) {
  Parsed p;
  return parse(s, Rules{.time_required = true}, p);
}

bool is_fhir_time(std::string_view s) {
  Parsed p;
  return parse_clock(s, 0, p, false) == s.size();
}

std::optional<TimeRange> parse_time_range(std::string_view s) {
  Parsed p;
  // Search values may leave out the seconds and the zone (then UTC).
  if (!parse(s, Rules{.zone_required = false, .seconds_required = false}, p)) return std::nullopt;
  TimeRange r;
  if (!p.month) {
    r.begin_ms = days_from_civil(p.year, 1, 1) * kDayMs;
    r.end_ms = days_from_civil(p.year + 1, 1, 1) * kDayMs;
  } else if (!p.day) {
    r.begin_ms = days_from_civil(p.year, p.month, 1) * kDayMs;
    r.end_ms = r.begin_ms + days_in_month(p.year, p.month) * kDayMs;
  } else if (!p.has_time) {
    r.begin_ms = days_from_civil(p.year, p.month, p.day) * kDayMs;
    r.end_ms = r.begin_ms + kDayMs;
  } else {
    int64_t t = days_from_civil(p.year, p.month, p.day) * kDayMs +
                (static_cast<int64_t>(p.hour) * 3600 + p.minute * 60 + p.second) * 1000 -
                static_cast<int64_t>(p.zone_minutes) * 60'000;
    r.begin_ms = t + p.millis;
    r.end_ms = r.begin_ms + (p.has_fraction ? 1 : p.has_seconds ? 1000 : 60'000);
  }
  return r;
}

}  // namespace medvault::fhir
