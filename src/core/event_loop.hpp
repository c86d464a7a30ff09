#pragma once
// Runs an io_context on the calling thread until it is stopped. With a spin window, a thread
// that runs out of ready handlers may keep polling (non-blocking epoll) for up to that long
// before it blocks: at low load the next event then finds the thread awake instead of waking it
// (on a VM a wake-up of an idle vCPU costs tens of microseconds per hop).
//
// The spin is adaptive: an idle period spins only when the gap before the last event was
// shorter than the window. Once a window passes without an event, the thread blocks at once
// whenever it runs out of work, until an event again follows within the window. Traffic whose
// events come far apart (a slow upstream, a quiet server) so costs at most one wasted window
// per short gap, not one per event. A zero window is plain io_context::run().

#include <chrono>
#include <cstdint>

namespace boost::asio {
class io_context;
}

namespace sb::core {

// What the loop did each time it ran out of ready handlers.
struct EventLoopStats {
  std::uint64_t spins_caught = 0;  // spun, and an event came within the window
  std::uint64_t spins_missed = 0;  // spun the whole window, then blocked
  std::uint64_t blocked = 0;       // blocked at once (the last gap outlasted the window)
};

// `stats`, when given, is written by the loop's own thread only; read it after the loop ends.
void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds spin,
                    EventLoopStats* stats = nullptr);

}  // namespace sb::core
