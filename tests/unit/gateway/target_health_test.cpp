#include <gtest/gtest.h>

#include "gateway/target_health.hpp"

namespace sb::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = TargetHealth::Clock;

class TargetHealthTest : public ::testing::Test {
 protected:
  TargetHealth h{BreakerConfig{.failure_percent = 50, .min_calls = 5, .window_ms = 60000, .open_ms = 30000}};
  Clock::time_point t = Clock::time_point{} + 1000h;

  void call(bool failed) {
    ASSERT_TRUE(h.allow(t));
    h.record(failed, 10ms, t);
  }
};

TEST_F(TargetHealthTest, StaysClosedBelowTheMinimumNumberOfCalls) {
  for (int i = 0; i < 4; ++i) call(true);
  EXPECT_EQ(h.snapshot(t).state, BreakerState::closed);
  EXPECT_EQ(h.snapshot(t).failures, 4);
  call(true);
  EXPECT_EQ(h.snapshot(t).state, BreakerState::open);
  EXPECT_FALSE(h.allow(t));
}

TEST_F(TargetHealthTest, OpensAtTheFailureShareNotBelow) {
  // 3 successes, 2 failures: 40% < 50%.
  for (bool f : {false, false, false, true, true}) call(f);
  EXPECT_EQ(h.snapshot(t).state, BreakerState::closed);
  call(true);  // 3 of 6 = 50%
  EXPECT_EQ(h.snapshot(t).state, BreakerState::open);
}

TEST_F(TargetHealthTest, OldCallsLeaveTheWindow) {
  for (int i = 0; i < 4; ++i) call(true);
  t += 61s;
  call(true);  // the four earlier failures are out of the window: 1 call
  EXPECT_EQ(h.snapshot(t).state, BreakerState::closed);
  EXPECT_EQ(h.snapshot(t).calls, 1);
}

TEST_F(TargetHealthTest, HalfOpenAdmitsOneProbeAndASuccessCloses) {
  for (int i = 0; i < 5; ++i) call(true);
  t += 29s;
  EXPECT_FALSE(h.allow(t));
  EXPECT_GT(h.snapshot(t).retry_in.count(), 0);
  t += 1s;
  EXPECT_EQ(h.snapshot(t).state, BreakerState::half_open);
  EXPECT_TRUE(h.allow(t));   // the probe
  EXPECT_FALSE(h.allow(t));  // no second caller while it runs
  h.record(false, 5ms, t);
  EXPECT_EQ(h.snapshot(t).state, BreakerState::closed);
  EXPECT_EQ(h.snapshot(t).calls, 0);  // a fresh window
  EXPECT_TRUE(h.allow(t));
}

TEST_F(TargetHealthTest, AFailedProbeOpensAgainForTheWholePeriod) {
  for (int i = 0; i < 5; ++i) call(true);
  t += 30s;
  ASSERT_TRUE(h.allow(t));
  h.record(true, 5ms, t);
  EXPECT_EQ(h.snapshot(t).state, BreakerState::open);
  t += 29s;
  EXPECT_FALSE(h.allow(t));
  t += 1s;
  EXPECT_TRUE(h.allow(t));
}

TEST_F(TargetHealthTest, AReleasedProbeFreesTheSlot) {
  for (int i = 0; i < 5; ++i) call(true);
  t += 30s;
  ASSERT_TRUE(h.allow(t));
  h.release();
  EXPECT_TRUE(h.allow(t));
}

TEST_F(TargetHealthTest, LatencyIsSmoothedOverSuccessesOnly) {
  ASSERT_TRUE(h.allow(t));
  h.record(false, 100ms, t);
  EXPECT_DOUBLE_EQ(h.snapshot(t).latency_ms, 100);
  h.record(true, 5000ms, t);
  EXPECT_DOUBLE_EQ(h.snapshot(t).latency_ms, 100);
  h.record(false, 200ms, t);
  EXPECT_DOUBLE_EQ(h.snapshot(t).latency_ms, 120);
}

}  // namespace
}  // namespace sb::gateway
