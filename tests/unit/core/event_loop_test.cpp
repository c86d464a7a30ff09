#include "core/event_loop.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <future>
#include <thread>
#include <vector>

namespace sb::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

TEST(EventLoop, WithoutASpinWindowItIsRunAndEndsWhenWorkRunsOut) {
  asio::io_context ioc(1);
  int ran = 0;
  for (int i = 0; i < 3; ++i) asio::post(ioc, [&] { ++ran; });
  run_event_loop(ioc, 0us);
  EXPECT_EQ(ran, 3);
}

TEST(EventLoop, ASpinningLoopRunsWorkPostedWhileItSpinsAndWhileItSleeps) {
  asio::io_context ioc(1);
  auto guard = asio::make_work_guard(ioc);
  std::thread loop([&] { run_event_loop(ioc, 500us); });
  std::atomic<int> ran{0};
  for (int i = 0; i < 200; ++i) {
    asio::post(ioc, [&] { ran.fetch_add(1); });
    // Every tenth post comes after the window has passed, when the loop sleeps in run_one().
    if (i % 10 == 0) std::this_thread::sleep_for(3ms);
  }
  std::promise<void> last;
  asio::post(ioc, [&] { last.set_value(); });
  ASSERT_EQ(last.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(ran.load(), 200);
  ioc.stop();
  loop.join();  // stop() ends the loop whether it spins or sleeps
}

TEST(EventLoop, AnIdleSpinningLoopSleepsAfterItsWindow) {
  asio::io_context ioc(1);
  auto guard = asio::make_work_guard(ioc);
  std::thread loop([&] { run_event_loop(ioc, 1ms); });
  std::promise<double> before, after;
  asio::post(ioc, [&] { before.set_value(thread_cpu_ms()); });
  double t0 = before.get_future().get();
  std::this_thread::sleep_for(400ms);  // idle: the loop spins 1 ms, then sleeps
  asio::post(ioc, [&] { after.set_value(thread_cpu_ms()); });
  double t1 = after.get_future().get();
  ioc.stop();
  loop.join();
  // A loop that never stopped spinning would have used the whole 400 ms.
  EXPECT_LT(t1 - t0, 200.0);
}

// A chain of timer events, each `gaps[i]` after the one before, run on the calling thread by a
// loop with `window`; the loop ends with the chain (no work left).
EventLoopStats run_timer_chain(std::chrono::microseconds window,
                               const std::vector<std::chrono::microseconds>& gaps) {
  asio::io_context ioc(1);
  asio::steady_timer timer(ioc);
  std::size_t fired = 0;
  std::function<void()> arm = [&] {
    timer.expires_after(gaps[fired]);
    timer.async_wait([&](boost::system::error_code) {
      if (++fired < gaps.size()) arm();
    });
  };
  arm();
  EventLoopStats stats;
  run_event_loop(ioc, window, &stats);
  EXPECT_EQ(fired, gaps.size());
  return stats;
}

std::vector<std::chrono::microseconds> even_gaps(std::chrono::microseconds gap, std::size_t count) {
  return std::vector<std::chrono::microseconds>(count, gap);
}

TEST(EventLoop, EventsCloserThanTheWindowAreCaughtBySpinning) {
  // 200 µs apart against a 20 ms window: nearly every idle period ends within its spin.
  EventLoopStats s = run_timer_chain(20ms, even_gaps(200us, 200));
  EXPECT_GE(s.spins_caught, 150u) << s.spins_missed << " missed, " << s.blocked << " blocked";
}

TEST(EventLoop, EventsFurtherApartThanTheWindowMakeTheLoopBlockAtOnce) {
  // 8 ms apart against a 2 ms window: the first idle period spins its window in vain; after it
  // the loop blocks at once, instead of spinning 2 ms before each of the other 39 events.
  EventLoopStats s = run_timer_chain(2ms, even_gaps(8ms, 40));
  EXPECT_LE(s.spins_caught + s.spins_missed, 2u);
  EXPECT_GE(s.blocked, 37u);
}

TEST(EventLoop, AShortGapAfterLongOnesStartsTheSpinAgain) {
  // Long gaps make the loop block at once; one short gap (measured while blocked) makes the
  // next idle period spin, and it catches the event that follows as closely.
  EventLoopStats s = run_timer_chain(2ms, {5ms, 5ms, 5ms, 100us, 100us, 100us});
  EXPECT_GE(s.blocked, 2u);       // the 2nd and 3rd long gaps, and the first short one
  EXPECT_GE(s.spins_caught, 1u);  // the last short gaps
}

}  // namespace
}  // namespace sb::core
