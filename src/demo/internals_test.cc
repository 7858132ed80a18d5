// Tests of the generator's building blocks: random stream, calendar, JSON
// writer and word lists.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <string>

#include "demo/calendar.h"
#include "demo/json_writer.h"
#include "demo/rng.h"
#include "demo/vocabulary.h"

namespace medvault::demo {
namespace {

TEST(DemoRng, IsSplitMix64) {
  // Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
  Rng r(0);
  EXPECT_EQ(r.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(r.next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(r.next(), 0x06c45d188009454fULL);
}

TEST(DemoRng, RangesStayInBoundsAndCoverThem) {
  Rng r(42);
  std::set<int64_t> seen;
  for (int i = 0; i < 10'000; ++i) {
    const int64_t v = r.between(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    seen.insert(v);
    const int64_t a = r.around(100, 10);
    ASSERT_GE(a, 90);
    ASSERT_LE(a, 110);
    ASSERT_LT(r.below(7), 7u);
  }
  EXPECT_EQ(seen.size(), 7u);
  int hits = 0;
  for (int i = 0; i < 10'000; ++i) hits += r.percent(30) ? 1 : 0;
  EXPECT_NEAR(hits, 3000, 300);
}

TEST(DemoRng, DerivedStreamsDiffer) {
  EXPECT_NE(Rng::derive(1, 0), Rng::derive(1, 1));
  EXPECT_NE(Rng::derive(1, 1), Rng::derive(2, 1));
}

TEST(DemoCalendar, CivilDaysRoundTrip) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2026, 1, 1), 20454);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  for (int64_t d = -800'000; d < 800'000; d += 997) {
    const Ymd c = civil_from_days(d);
    ASSERT_EQ(days_from_civil(c.y, c.m, c.d), d);
  }
  EXPECT_EQ(weekday(0), 4);                                // Thursday
  EXPECT_EQ(weekday(days_from_civil(2024, 2, 29)), 4);     // Thursday
  EXPECT_EQ(weekday(-1), 3);
  EXPECT_EQ(day_of_ms(-1), -1);
  EXPECT_EQ(day_of_ms(86'400'000), 1);
}

TEST(DemoCalendar, ParisOffsetFollowsEuSummerTime) {
  EXPECT_EQ(paris_offset_minutes(days_from_civil(2021, 3, 27)), 60);
  EXPECT_EQ(paris_offset_minutes(days_from_civil(2021, 3, 28)), 120);  // last Sunday of March
  EXPECT_EQ(paris_offset_minutes(days_from_civil(2021, 7, 14)), 120);
  EXPECT_EQ(paris_offset_minutes(days_from_civil(2021, 10, 30)), 120);
  EXPECT_EQ(paris_offset_minutes(days_from_civil(2021, 10, 31)), 60);  // last Sunday of October
  EXPECT_EQ(paris_offset_minutes(days_from_civil(2021, 12, 25)), 60);
}

TEST(DemoCalendar, FormatsFhirDates) {
  std::string s;
  append_date(s, days_from_civil(2021, 3, 4));
  EXPECT_EQ(s, "2021-03-04");
  s.clear();
  append_paris_datetime(s, days_from_civil(2021, 3, 4), 10 * 60 + 30);
  EXPECT_EQ(s, "2021-03-04T10:30:00+01:00");
  s.clear();
  append_paris_datetime(s, days_from_civil(2021, 6, 1), 8 * 60 + 5, 7);
  EXPECT_EQ(s, "2021-06-01T08:05:07+02:00");
}

TEST(DemoJsonWriter, WritesCompactJsonWithCommas) {
  std::string out;
  JsonWriter w(out);
  w.begin_object().member("a", "x").key("b").begin_array().integer(1).integer(-2).begin_object().end_object();
  w.end_array().member_bool("c", false).key("d").begin_object().member_int("e", 0).end_object().end_object();
  EXPECT_EQ(out, R"({"a":"x","b":[1,-2,{}],"c":false,"d":{"e":0}})");
  EXPECT_TRUE(w.complete());
}

TEST(DemoJsonWriter, WritesDecimalsWithTheGivenDigits) {
  std::string out;
  JsonWriter w(out);
  w.begin_array().decimal(540, 2).decimal(720, 1).decimal(-5, 1).decimal(7, 0).decimal(5, 3).end_array();
  EXPECT_EQ(out, "[5.40,72.0,-0.5,7,0.005]");
  std::string fr;
  JsonWriter::append_decimal(fr, 725, 1, ',');
  EXPECT_EQ(fr, "72,5");
}

TEST(DemoJsonWriter, EscapesStrings) {
  std::string out;
  JsonWriter w(out);
  const std::string nasty = std::string("quote\" back\\slash\nnew\ttab\x01 ctl \x7f é ") + '\0' + "end";
  w.begin_array().string(nasty).end_array();
  EXPECT_EQ(out, "[\"quote\\\" back\\\\slash\\nnew\\ttab\\u0001 ctl \x7f é \\u0000end\"]");
  const boost::json::value v = boost::json::parse(out);
  EXPECT_EQ(std::string(v.as_array().at(0).as_string()), nasty);
}

TEST(DemoVocabulary, NameListsAreLargeAndDistinct) {
  for (auto list : {vocab::french_male_given(), vocab::french_female_given(), vocab::french_family(),
                    vocab::english_male_given(), vocab::english_female_given(), vocab::english_family()}) {
    EXPECT_GE(list.size(), 120u);
    std::set<std::string_view> unique(list.begin(), list.end());
    EXPECT_EQ(unique.size(), list.size()) << "duplicate in list starting " << list[0];
  }
  auto contains = [](vocab::Words list, std::string_view name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  EXPECT_TRUE(contains(vocab::french_female_given(), "Hélène"));
  EXPECT_TRUE(contains(vocab::french_male_given(), "François"));
  EXPECT_TRUE(contains(vocab::french_male_given(), "Noël"));
  EXPECT_TRUE(contains(vocab::french_family(), "Lefèvre"));
}

TEST(DemoVocabulary, ConditionsHaveTreatmentsThatExist) {
  for (int c = 0; c < vocab::kCondCount; ++c) {
    const vocab::ConditionKind& k = vocab::condition(static_cast<vocab::Cond>(c));
    EXPECT_FALSE(k.code.code.empty());
    EXPECT_EQ(k.chronic, c < vocab::kChronicCount);
    if (!k.chronic) {
      EXPECT_NE(k.meds[0], vocab::Med::none) << k.label_en;
    }
  }
}

}  // namespace
}  // namespace medvault::demo
