// The GCRA limiter: smooth per-minute allowance with a burst of the limit, corrections after the
// fact, in-flight counting, bounded memory; and OpenAI's duration format.

#include <gtest/gtest.h>

#include "control/limiter.hpp"

namespace sb::control {
namespace {

constexpr std::int64_t T0 = 1'700'000'000'000;

TEST(Limiter, AdmitsTheLimitAtOnceThenOneEveryIntervalNotAFixedWindow) {
  auto l = make_local_limiter();
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(l->take("k", 60, 1, T0).ok) << i;
  auto refused = l->take("k", 60, 1, T0);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.retry_after_ms, 1000);  // one more each second, not a whole minute later
  EXPECT_EQ(refused.window.remaining, 0);
  EXPECT_EQ(refused.window.reset_ms, 60000);
  EXPECT_FALSE(l->take("k", 60, 1, T0 + 999).ok);
  EXPECT_TRUE(l->take("k", 60, 1, T0 + 1000).ok);
  EXPECT_FALSE(l->take("k", 60, 1, T0 + 1000).ok);
  // No double burst at a window's edge: a minute after the start only what refilled is there.
  int admitted = 0;
  while (l->take("k", 60, 1, T0 + 60000).ok) ++admitted;
  EXPECT_EQ(admitted, 59);
}

TEST(Limiter, BucketsAreIndependentAndCostCounts) {
  auto l = make_local_limiter();
  EXPECT_TRUE(l->take("a", 1000, 900, T0).ok);
  auto t = l->take("a", 1000, 200, T0);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.window.remaining, 100);
  EXPECT_EQ(t.retry_after_ms, 6000);  // 100 tokens refill in 6 s at 1000/min
  EXPECT_TRUE(l->take("b", 1000, 1000, T0).ok);
  auto never = l->take("c", 1000, 1001, T0);
  EXPECT_FALSE(never.ok);
  EXPECT_TRUE(never.never);
}

TEST(Limiter, AdjustCorrectsAReservationBothWays) {
  auto l = make_local_limiter();
  ASSERT_TRUE(l->take("t", 1000, 800, T0).ok);  // reserved 800
  l->adjust("t", 1000, -790, T0);               // used 10
  EXPECT_EQ(l->peek("t", 1000, T0).remaining, 990);
  l->adjust("t", 1000, 1500, T0);  // used far more than reserved: in debt
  EXPECT_EQ(l->peek("t", 1000, T0).remaining, 0);
  EXPECT_FALSE(l->take("t", 1000, 1, T0).ok);
  // Credit never makes a bucket fuller than full.
  l->adjust("u", 1000, -5000, T0);
  EXPECT_EQ(l->peek("u", 1000, T0).remaining, 1000);
  EXPECT_FALSE(l->take("u", 1000, 1001, T0).ok);
}

TEST(Limiter, HugeLimitsNeitherCrashNorRefuse) {
  auto l = make_local_limiter();
  const long long huge = 1LL << 40;  // more units than nanoseconds in a minute
  EXPECT_TRUE(l->take("h", huge, 1000, T0).ok);
  l->adjust("h", huge, -500, T0);
  EXPECT_GT(l->peek("h", huge, T0).remaining, 0);
  EXPECT_TRUE(l->take("h", 10'000'000'000LL, 5'000'000'000LL, T0).ok);
}

TEST(Limiter, CountsRequestsInFlight) {
  auto l = make_local_limiter();
  EXPECT_TRUE(l->enter("p", 2));
  EXPECT_TRUE(l->enter("p", 2));
  EXPECT_FALSE(l->enter("p", 2));
  EXPECT_EQ(l->in_flight("p"), 2);
  l->leave("p");
  EXPECT_TRUE(l->enter("p", 2));
  l->leave("p");
  l->leave("p");
  l->leave("p");  // one too many: stays at 0
  EXPECT_EQ(l->in_flight("p"), 0);
}

TEST(Limiter, MemoryIsBoundedByDroppingFullIdleBuckets) {
  auto l = make_local_limiter(8);  // per shard: 64 shards
  for (int i = 0; i < 100000; ++i) l->take("ip:" + std::to_string(i), 60, 1, T0 + i * 2000);
  EXPECT_LE(l->size(), 64u * 8u);
}

TEST(Limiter, FormatsDurationsTheWayOpenAIDoes) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(20), "20ms");
  EXPECT_EQ(format_duration(1000), "1s");
  EXPECT_EQ(format_duration(1200), "2s");
  EXPECT_EQ(format_duration(360000), "6m0s");
  EXPECT_EQ(format_duration(3723000), "1h2m3s");
}

}  // namespace
}  // namespace sb::control
