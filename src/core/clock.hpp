#pragma once
// Wall-clock time in Unix milliseconds, behind an interface so lifecycle code (job TTLs,
// retention, backoff times) can be tested with a clock the test moves.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sb::core {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now_ms() const override { return now_.load(); }
  void advance(std::int64_t ms) { now_.fetch_add(ms); }
  void set(std::int64_t ms) { now_.store(ms); }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace sb::core
