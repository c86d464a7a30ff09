#pragma once
// Runs an io_context on the calling thread until it is stopped. With a spin window, a thread
// that runs out of ready handlers keeps polling (non-blocking epoll) for that long before it
// blocks: at low load the next event finds the thread awake instead of waking it (on a VM a
// wake-up of an idle vCPU costs tens of microseconds), at the price of up to `spin` of CPU
// after each burst of work. A zero window is plain io_context::run().

#include <chrono>

namespace boost::asio {
class io_context;
}

namespace sb::core {

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds spin);

}  // namespace sb::core
