#include "core/blocking_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sb::core {
namespace {

namespace asio = boost::asio;

TEST(BlockingPool, RunsOffTheCallerAndResumesOnItsExecutor) {
  asio::io_context ioc;
  BlockingPool pool(2, 16);
  std::thread::id io_thread, work_thread, resumed_thread;
  int value = 0;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        io_thread = std::this_thread::get_id();
        auto r = co_await pool.run([&]() -> Result<int> {
          work_thread = std::this_thread::get_id();
          return 42;
        });
        resumed_thread = std::this_thread::get_id();
        value = r.ok() ? *r : -1;
      },
      asio::detached);
  ioc.run();
  EXPECT_EQ(value, 42);
  EXPECT_NE(work_thread, io_thread);
  EXPECT_EQ(resumed_thread, io_thread);
}

TEST(BlockingPool, AnswersBusyWhenTheQueueIsFull) {
  asio::io_context ioc;
  BlockingPool pool(1, 2);
  std::atomic<bool> release{false};
  int busy = 0, done = 0;
  for (int i = 0; i < 5; ++i) {
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          auto r = co_await pool.run([&]() -> Result<int> {
            while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            return 1;
          });
          if (r) {
            ++done;
          } else if (r.error().kind == ErrorKind::busy) {
            ++busy;
          }
        },
        asio::detached);
  }
  // Release the held tasks only after all five calls were made (this runs after the five
  // coroutines reached their first wait): releasing earlier would let a finished task free a slot
  // before the later calls ask for one.
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { release = true; co_return; }, asio::detached);
  ioc.run();
  EXPECT_EQ(busy, 3);
  EXPECT_EQ(done, 2);
  EXPECT_EQ(pool.pending(), 0u);
}

TEST(BlockingPool, ExceptionsBecomeInternalErrors) {
  asio::io_context ioc;
  BlockingPool pool(1, 4);
  std::optional<Error> err;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto r = co_await pool.run([]() -> Result<int> { throw std::runtime_error("boom"); });
        if (!r) err = r.error();
      },
      asio::detached);
  ioc.run();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->kind, ErrorKind::internal);
  EXPECT_EQ(err->message, "boom");
}

}  // namespace
}  // namespace sb::core
