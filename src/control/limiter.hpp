#pragma once
// Rate limits: the generic cell rate algorithm (GCRA) per bucket, "N per minute" with a burst
// of N, so a client sees a smooth allowance (one more request every 60/N s) and never the
// double burst of a fixed window's edge. A bucket also counts requests in flight
// (max_parallel). The embedded Limiter keeps buckets in process, sharded; a Redis one will
// implement the same interface (one atomic script per call).

#include <cstdint>
#include <memory>
#include <string_view>

namespace sb::control {

struct Window {
  long long limit = 0;
  long long remaining = 0;
  std::int64_t reset_ms = 0;  // until the bucket is full again
};

struct Take {
  bool ok = false;
  std::int64_t retry_after_ms = 0;  // when refused: until `cost` would be admitted
  bool never = false;               // refused: cost is more than the whole per-minute limit
  Window window;                    // after the take (or as it stands, when refused)
};

class Limiter {
 public:
  virtual ~Limiter() = default;
  // Takes `cost` from `bucket` (per_minute > 0; above 60 billion it counts as 60 billion) if it
  // fits now.
  virtual Take take(std::string_view bucket, long long per_minute, long long cost, std::int64_t now_ms) = 0;
  // Gives back (delta < 0) or takes more (delta > 0) after the fact: a reservation corrected
  // with the real count. Never refuses; a bucket may go into debt.
  virtual void adjust(std::string_view bucket, long long per_minute, long long delta, std::int64_t now_ms) = 0;
  virtual Window peek(std::string_view bucket, long long per_minute, std::int64_t now_ms) = 0;
  // In-flight counting: enter() is refused at `max`; every admitted enter() is paired with a leave().
  virtual bool enter(std::string_view bucket, long long max) = 0;
  virtual void leave(std::string_view bucket) = 0;
  virtual long long in_flight(std::string_view bucket) = 0;
  // Buckets held (for tests and bounds).
  virtual std::size_t size() = 0;
};

// In process: 64 shards, each a mutex and a hash map. A shard over `max_buckets_per_shard`
// drops its idle buckets (full and nothing in flight: they hold no information).
std::unique_ptr<Limiter> make_local_limiter(std::size_t max_buckets_per_shard = 4096);

// OpenAI's duration format for x-ratelimit-reset-*: "20ms", "1s", "6m0s", "1h2m3s".
std::string format_duration(std::int64_t ms);

}  // namespace sb::control
