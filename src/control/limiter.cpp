#include "control/limiter.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sb::control {

namespace {

constexpr std::int64_t kMinuteNs = 60'000'000'000LL;

struct Cell {
  std::int64_t tat_ns = 0;  // theoretical arrival time: the bucket is full at or after it
  long long in_flight = 0;
};

// Per-minute limit -> nanoseconds per unit (at least 1: a limit over 60 billion a minute is that).
std::int64_t interval_ns(long long per_minute) {
  return std::max<std::int64_t>(1, kMinuteNs / std::max<long long>(per_minute, 1));
}

Window window_of(const Cell& c, long long per_minute, std::int64_t now_ns) {
  const std::int64_t t = interval_ns(per_minute);
  const std::int64_t debt = std::max<std::int64_t>(0, c.tat_ns - now_ns);
  Window w;
  w.limit = per_minute;
  w.remaining = std::clamp<long long>((kMinuteNs - debt) / t, 0, per_minute);
  w.reset_ms = (debt + 999'999) / 1'000'000;
  return w;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class LocalLimiter final : public Limiter {
 public:
  explicit LocalLimiter(std::size_t max_per_shard) : max_(max_per_shard) {}

  Take take(std::string_view bucket, long long per_minute, long long cost, std::int64_t now_ms) override {
    const std::int64_t now = now_ms * 1'000'000;
    const std::int64_t t = interval_ns(per_minute);
    Shard& s = shard(bucket);
    std::lock_guard lock(s.mu);
    Cell& c = cell(s, bucket, now);
    Take out;
    const std::int64_t start = std::max(c.tat_ns, now);
    if (cost > per_minute) {
      out.never = true;
      out.window = window_of(c, per_minute, now);
      out.retry_after_ms = 60'000;
      return out;
    }
    const std::int64_t next = start + t * std::max<long long>(cost, 0);  // (cost <= per_minute: no overflow)
    if (next - now > kMinuteNs) {
      out.retry_after_ms = (next - now - kMinuteNs + 999'999) / 1'000'000;
      out.window = window_of(c, per_minute, now);
      return out;
    }
    c.tat_ns = next;
    out.ok = true;
    out.window = window_of(c, per_minute, now);
    return out;
  }

  void adjust(std::string_view bucket, long long per_minute, long long delta, std::int64_t now_ms) override {
    if (delta == 0) return;
    const std::int64_t now = now_ms * 1'000'000;
    Shard& s = shard(bucket);
    std::lock_guard lock(s.mu);
    Cell& c = cell(s, bucket, now);
    // Credit never makes the bucket fuller than full; debt may go past a minute (up to an hour).
    const __int128 change = static_cast<__int128>(interval_ns(per_minute)) * delta;
    const __int128 bound = static_cast<__int128>(kMinuteNs) * 60;
    c.tat_ns = std::max(c.tat_ns, now) + static_cast<std::int64_t>(std::clamp(change, -bound, bound));
    c.tat_ns = std::min<std::int64_t>(c.tat_ns, now + static_cast<std::int64_t>(bound));
    if (c.tat_ns < now) c.tat_ns = now;
  }

  Window peek(std::string_view bucket, long long per_minute, std::int64_t now_ms) override {
    Shard& s = shard(bucket);
    std::lock_guard lock(s.mu);
    auto it = s.cells.find(bucket);
    return window_of(it == s.cells.end() ? Cell{} : it->second, per_minute, now_ms * 1'000'000);
  }

  bool enter(std::string_view bucket, long long max) override {
    Shard& s = shard(bucket);
    std::lock_guard lock(s.mu);
    Cell& c = cell(s, bucket, 0);
    if (c.in_flight >= max) return false;
    ++c.in_flight;
    return true;
  }

  void leave(std::string_view bucket) override {
    Shard& s = shard(bucket);
    std::lock_guard lock(s.mu);
    auto it = s.cells.find(bucket);
    if (it != s.cells.end() && it->second.in_flight > 0) --it->second.in_flight;
  }

  long long in_flight(std::string_view bucket) override {
    Shard& s = shard(bucket);
    std::lock_guard lock(s.mu);
    auto it = s.cells.find(bucket);
    return it == s.cells.end() ? 0 : it->second.in_flight;
  }

  std::size_t size() override {
    std::size_t n = 0;
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.cells.size();
    }
    return n;
  }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Cell, StringHash, std::equal_to<>> cells;
  };

  Shard& shard(std::string_view bucket) { return shards_[StringHash{}(bucket) % shards_.size()]; }

  // REQUIRES: s.mu held.
  Cell& cell(Shard& s, std::string_view bucket, std::int64_t now_ns) {
    auto it = s.cells.find(bucket);
    if (it != s.cells.end()) return it->second;
    if (s.cells.size() >= max_) {
      const std::int64_t now =
          now_ns > 0 ? now_ns
                     : std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
      std::erase_if(s.cells, [now](const auto& kv) {
        return kv.second.in_flight == 0 && kv.second.tat_ns <= now;
      });
      // Still full (every bucket busy): the oldest-looking idle ones go regardless of debt, so
      // memory stays bounded; a dropped bucket forgets its debt (errs towards admitting).
      if (s.cells.size() >= max_) {
        std::erase_if(s.cells, [](const auto& kv) { return kv.second.in_flight == 0; });
      }
    }
    return s.cells.emplace(std::string(bucket), Cell{}).first->second;
  }

  std::size_t max_;
  std::array<Shard, 64> shards_;
};

}  // namespace

std::unique_ptr<Limiter> make_local_limiter(std::size_t max_buckets_per_shard) {
  return std::make_unique<LocalLimiter>(std::max<std::size_t>(max_buckets_per_shard, 1));
}

std::string format_duration(std::int64_t ms) {
  if (ms <= 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::int64_t s = (ms + 999) / 1000;
  std::string out;
  if (s >= 3600) {
    out += std::to_string(s / 3600) + "h";
    s %= 3600;
    out += std::to_string(s / 60) + "m";
    s %= 60;
  } else if (s >= 60) {
    out += std::to_string(s / 60) + "m";
    s %= 60;
  }
  return out + std::to_string(s) + "s";
}

}  // namespace sb::control
