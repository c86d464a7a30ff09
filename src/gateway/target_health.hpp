#pragma once
// Health of one route target (provider + model): a circuit breaker over a sliding window of
// recent calls, and a smoothed latency used by the least_latency strategy.
//
// closed:    calls go ahead; when at least min_calls calls in the window ended and at least
//            failure_percent of them failed, the breaker opens.
// open:      calls are refused without touching the upstream, for open_ms.
// half_open: one probe call is admitted; its success closes the breaker (window cleared), its
//            failure opens it again for open_ms.
// Thread-safe. Time is passed in so tests can drive it without sleeping.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace sb::gateway {

struct BreakerConfig {
  int failure_percent = 50;
  int min_calls = 5;
  int window_ms = 60000;
  int open_ms = 30000;
};

enum class BreakerState { closed, open, half_open };
std::string_view to_string(BreakerState s);

class TargetHealth {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TargetHealth(BreakerConfig config);

  // Whether a call may go ahead now (claims the probe slot when half-open).
  bool allow(Clock::time_point now);
  // The end of an allowed call. `failed` = the upstream failed in a way that counts against it
  // (no answer, timeout, 408/409/429/5xx); a client error answered by the upstream is a success
  // for the breaker. `latency` feeds the average only for successes.
  void record(bool failed, Clock::duration latency, Clock::time_point now);
  // An allowed call that ended without a verdict (our client went away): frees the probe slot.
  void release();

  struct Snapshot {
    BreakerState state = BreakerState::closed;
    int calls = 0;       // in the window
    int failures = 0;    // in the window
    double latency_ms = 0;  // smoothed latency of successful calls; 0 = none yet
    std::chrono::milliseconds retry_in{0};  // open: until a probe is admitted
  };
  Snapshot snapshot(Clock::time_point now);

 private:
  struct Bucket {
    std::int64_t slot = -1;  // which window_ms/kBuckets slice of time it counts
    int calls = 0;
    int failures = 0;
  };
  static constexpr int kBuckets = 10;

  std::int64_t slot_of(Clock::time_point now) const;
  void totals(Clock::time_point now, int& calls, int& failures) const;
  void advance(Clock::time_point now);  // open -> half_open when open_ms has passed

  BreakerConfig config_;
  std::mutex mu_;
  BreakerState state_ = BreakerState::closed;
  Clock::time_point opened_at_{};
  bool probe_in_flight_ = false;
  std::vector<Bucket> buckets_;
  double latency_ms_ = 0;
};

}  // namespace sb::gateway
