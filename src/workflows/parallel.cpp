#include "workflows/parallel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>

#include "core/log.hpp"

namespace sb::workflows {

namespace asio = boost::asio;

namespace {

struct Join {
  explicit Join(asio::any_io_executor ex) : done(ex) {}
  asio::steady_timer done;
  std::size_t left = 0;
};

}  // namespace

asio::awaitable<void> run_all(std::vector<Task> tasks) {
  if (tasks.empty()) co_return;
  auto ex = co_await asio::this_coro::executor;
  auto join = std::make_shared<Join>(ex);
  join->left = tasks.size();
  for (auto& t : tasks) {
    auto ended = [join](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          core::log::error("a parallel task failed", {{"error", x.what()}});
        } catch (...) {
          core::log::error("a parallel task failed", {});
        }
      }
      if (--join->left == 0) join->done.cancel();
    };
    asio::co_spawn(ex, t(), std::move(ended));
  }
  while (join->left > 0) {
    join->done.expires_at(asio::steady_timer::time_point::max());
    co_await join->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace sb::workflows
