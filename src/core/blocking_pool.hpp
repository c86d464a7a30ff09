#pragma once
// A bounded pool of threads for blocking work (SQLite, file parsing, index inserts).
// Coroutines on I/O threads `co_await pool.run(f)`: f runs on a pool thread and the coroutine
// resumes on its own executor (its connection's thread). When `max_queue` tasks are already waiting or
// running, run() answers ErrorKind::busy at once instead of queueing without bound.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <type_traits>
#include <utility>

#include "core/error.hpp"

namespace sb::core {

template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<Result<T>> : std::true_type {};

class BlockingPool {
 public:
  BlockingPool(std::size_t threads, std::size_t max_queue)
      : pool_(threads), max_queue_(max_queue) {}
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  ~BlockingPool() { stop(); }

  // Runs f() on a pool thread. f must return a Result<T>; an exception thrown by f becomes
  // ErrorKind::internal.
  template <class F>
    requires is_result<std::invoke_result_t<F>>::value
  boost::asio::awaitable<std::invoke_result_t<F>> run(F f) {
    using R = std::invoke_result_t<F>;
    if (pending_.fetch_add(1, std::memory_order_relaxed) >= max_queue_) {
      pending_.fetch_sub(1, std::memory_order_relaxed);
      co_return R(Error(ErrorKind::busy, "server busy: blocking queue is full", {}, "core"));
    }
    co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(R)>(
        [this](auto handler, F fn) {
          auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler));
          boost::asio::post(pool_, [this, fn = std::move(fn), handler = std::move(handler),
                                    work = std::move(work)]() mutable {
            R r = invoke(fn);
            pending_.fetch_sub(1, std::memory_order_relaxed);
            auto ex = work.get_executor();
            boost::asio::dispatch(ex, [handler = std::move(handler), r = std::move(r)]() mutable {
              std::move(handler)(std::move(r));
            });
          });
        },
        boost::asio::use_awaitable, std::move(f));
  }

  // Tasks waiting or running now.
  std::size_t pending() const { return pending_.load(std::memory_order_relaxed); }

  // Finishes queued tasks and joins the threads. Idempotent.
  void stop() { pool_.join(); }

 private:
  template <class F>
  static std::invoke_result_t<F> invoke(F& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return Error(ErrorKind::internal, e.what(), {}, "blocking_pool");
    } catch (...) {
      return Error(ErrorKind::internal, "unknown exception", {}, "blocking_pool");
    }
  }

  boost::asio::thread_pool pool_;
  std::size_t max_queue_;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace sb::core
