#include "core/event_loop.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <future>
#include <thread>

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

}  // namespace
}  // namespace sb::core
