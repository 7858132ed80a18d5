// The schedule's timing decisions (SchedulePolicy), driven by a fake time.
#include "backup/schedule.h"

#include <gtest/gtest.h>

namespace medvault::backup {
namespace {

constexpr int64_t kS = 1000, kH = 3600 * kS;
constexpr int64_t kT0 = 1'800'000'000'000;  // some instant, ms

TEST(SchedulePolicy, FirstRunIsDueEveryAfterTheNewestBackupOrAtOnce) {
  SchedulePolicy p(24 * kH, 26 * kH);
  p.start(kT0, std::nullopt);
  EXPECT_EQ(p.next_run_ms(), kT0);

  SchedulePolicy recent(24 * kH, 26 * kH);
  recent.start(kT0, kT0 - 3 * kH);  // restarted 3 h after a backup
  EXPECT_EQ(recent.next_run_ms(), kT0 + 21 * kH);

  SchedulePolicy late(24 * kH, 26 * kH);
  late.start(kT0, kT0 - 30 * kH);
  EXPECT_EQ(late.next_run_ms(), kT0);
}

TEST(SchedulePolicy, GoodRunWaitsEveryFailedRunRetriesWithinAnHour) {
  SchedulePolicy p(24 * kH, 26 * kH);
  p.start(kT0, std::nullopt);
  p.ran(kT0 + 5 * kS, true, kT0);
  EXPECT_EQ(p.next_run_ms(), kT0 + 5 * kS + 24 * kH);
  p.ran(kT0 + 24 * kH, false, std::nullopt);
  EXPECT_EQ(p.next_run_ms(), kT0 + 25 * kH);

  SchedulePolicy fast(2 * kS, kH);  // short intervals retry at the interval
  fast.start(kT0, std::nullopt);
  fast.ran(kT0, false, std::nullopt);
  EXPECT_EQ(fast.next_run_ms(), kT0 + 2 * kS);
}

TEST(SchedulePolicy, RpoCountsFromTheNewestBackupOrFromTheStart) {
  SchedulePolicy none(24 * kH, 26 * kH);
  none.start(kT0, std::nullopt);
  EXPECT_FALSE(none.alert_due(kT0));  // a new vault is not late yet
  none.ran(kT0 + kS, false, std::nullopt);
  EXPECT_FALSE(none.alert_due(kT0 + kS));
  EXPECT_FALSE(none.rpo_exceeded(kT0 + 26 * kH));
  EXPECT_TRUE(none.alert_due(kT0 + 26 * kH + 1));

  SchedulePolicy old(24 * kH, 26 * kH);
  old.start(kT0, kT0 - 27 * kH);
  EXPECT_TRUE(old.alert_due(kT0));  // at start
}

TEST(SchedulePolicy, AlertsAtMostHourlyWhileItLastsAndAgainAfterItEnds) {
  SchedulePolicy p(2 * kS, 10 * kS);
  p.start(kT0, kT0 - 20 * kS);
  EXPECT_TRUE(p.alert_due(kT0));
  int64_t t = kT0;
  for (int i = 0; i < 100; ++i) {  // a failed run every 2 s for 200 s
    t += 2 * kS;
    p.ran(t, false, std::nullopt);
    EXPECT_FALSE(p.alert_due(t)) << i;
  }
  t = kT0 + kH;
  p.ran(t, false, std::nullopt);
  EXPECT_TRUE(p.alert_due(t));
  // A newer good backup seen on the target by a failed run counts too.
  p.ran(t + kS, false, t);
  EXPECT_FALSE(p.rpo_exceeded(t + kS));
  // A good run ends the episode: the next lapse alerts at once.
  p.ran(t + 2 * kS, true, t + 2 * kS);
  EXPECT_FALSE(p.alert_due(t + 2 * kS));
  EXPECT_TRUE(p.alert_due(t + 13 * kS));
  EXPECT_FALSE(p.alert_due(t + 14 * kS));
  // An older backup reported later does not move the newest back.
  p.ran(t + 15 * kS, false, kT0);
  EXPECT_EQ(p.newest_good_ms(), t + 2 * kS);
}

}  // namespace
}  // namespace medvault::backup
