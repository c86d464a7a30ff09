#pragma once
// Several coroutines at once on the caller's executor (one I/O thread: no locks between them),
// awaited together.

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <vector>

namespace sb::workflows {

using Task = std::function<boost::asio::awaitable<void>()>;

// Starts every task at once and returns when all of them have ended. A task that throws ends
// alone (logged); the others go on. The tasks must not outlive what they capture: this call
// keeps them alive until they end.
boost::asio::awaitable<void> run_all(std::vector<Task> tasks);

}  // namespace sb::workflows
