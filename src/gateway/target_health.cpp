#include "gateway/target_health.hpp"

#include <algorithm>

namespace sb::gateway {

std::string_view to_string(BreakerState s) {
  switch (s) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half_open";
  }
  return "closed";
}

TargetHealth::TargetHealth(BreakerConfig config) : config_(config), buckets_(kBuckets) {}

std::int64_t TargetHealth::slot_of(Clock::time_point now) const {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::int64_t width = std::max(1, config_.window_ms / kBuckets);
  return ms / width;
}

void TargetHealth::totals(Clock::time_point now, int& calls, int& failures) const {
  calls = failures = 0;
  std::int64_t current = slot_of(now);
  for (const auto& b : buckets_) {
    if (b.slot > current - kBuckets && b.slot <= current) {
      calls += b.calls;
      failures += b.failures;
    }
  }
}

void TargetHealth::advance(Clock::time_point now) {
  if (state_ == BreakerState::open && now - opened_at_ >= std::chrono::milliseconds(config_.open_ms)) {
    state_ = BreakerState::half_open;
    probe_in_flight_ = false;
  }
}

bool TargetHealth::allow(Clock::time_point now) {
  std::lock_guard lock(mu_);
  advance(now);
  switch (state_) {
    case BreakerState::closed: return true;
    case BreakerState::open: return false;
    case BreakerState::half_open:
      if (probe_in_flight_) return false;
      probe_in_flight_ = true;
      return true;
  }
  return true;
}

void TargetHealth::record(bool failed, Clock::duration latency, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!failed) {
    double ms = std::chrono::duration<double, std::milli>(latency).count();
    latency_ms_ = latency_ms_ == 0 ? ms : 0.8 * latency_ms_ + 0.2 * ms;
  }
  if (state_ == BreakerState::half_open) {
    probe_in_flight_ = false;
    if (failed) {
      state_ = BreakerState::open;
      opened_at_ = now;
    } else {
      state_ = BreakerState::closed;
      for (auto& b : buckets_) b = Bucket{};
    }
    return;
  }
  if (state_ == BreakerState::open) return;  // a call that started before the breaker opened
  std::int64_t slot = slot_of(now);
  Bucket& b = buckets_[static_cast<std::size_t>(slot % kBuckets)];
  if (b.slot != slot) b = Bucket{slot, 0, 0};
  ++b.calls;
  if (failed) ++b.failures;
  int calls = 0, failures = 0;
  totals(now, calls, failures);
  if (failed && calls >= config_.min_calls && failures * 100 >= config_.failure_percent * calls) {
    state_ = BreakerState::open;
    opened_at_ = now;
  }
}

void TargetHealth::release() {
  std::lock_guard lock(mu_);
  if (state_ == BreakerState::half_open) probe_in_flight_ = false;
}

TargetHealth::Snapshot TargetHealth::snapshot(Clock::time_point now) {
  std::lock_guard lock(mu_);
  advance(now);
  Snapshot s;
  s.state = state_;
  totals(now, s.calls, s.failures);
  s.latency_ms = latency_ms_;
  if (state_ == BreakerState::open) {
    s.retry_in = std::chrono::duration_cast<std::chrono::milliseconds>(
        opened_at_ + std::chrono::milliseconds(config_.open_ms) - now);
  } else if (state_ == BreakerState::half_open && probe_in_flight_) {
    s.retry_in = std::chrono::milliseconds(1000);
  }
  return s;
}

}  // namespace sb::gateway
