#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace sb::core::metrics {
namespace {

TEST(Metrics, RendersCountersWithLabels) {
  Registry r;
  auto& f = r.counter("t_requests_total", "Requests.", {"route", "status"});
  f.with({"/a", "200"}).inc();
  f.with({"/a", "200"}).inc(2);
  f.with({"/b\"x", "500"}).inc();
  std::string out = r.render();
  EXPECT_NE(out.find("# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"),
            std::string::npos);
  EXPECT_NE(out.find("t_requests_total{route=\"/a\",status=\"200\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("t_requests_total{route=\"/b\\\"x\",status=\"500\"} 1\n"), std::string::npos);
}

TEST(Metrics, GaugesAndCollectors) {
  Registry r;
  auto& g = r.gauge("t_open", "Open.").with({});
  g.add(3);
  g.add(-1);
  int collected = 0;
  r.on_collect([&] { ++collected; });
  std::string out = r.render();
  EXPECT_NE(out.find("t_open 2\n"), std::string::npos);
  EXPECT_EQ(collected, 1);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Registry r;
  auto& h = r.histogram("t_seconds", "Latency.", {"route"}, {0.1, 1}).with({"/x"});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(0.5);
  h.observe(5);
  std::string out = r.render();
  EXPECT_NE(out.find("t_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("t_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(out.find("t_seconds_count{route=\"/x\"} 4\n"), std::string::npos);
  EXPECT_NE(out.find("t_seconds_sum{route=\"/x\"} 6.05\n"), std::string::npos);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto& f = r.counter("t_c", "C.", {"k"});
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) f.with({std::to_string(i % 3)}).inc();
    });
  }
  for (auto& t : ts) t.join();
  std::uint64_t total = 0;
  f.each([&](const Labels&, const Counter& c) { total += c.value(); });
  EXPECT_EQ(total, 40000u);
}

}  // namespace
}  // namespace sb::core::metrics
