#include "core/event_loop.hpp"

#include <boost/asio/io_context.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sb::core {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds spin,
                    EventLoopStats* stats) {
  if (spin.count() <= 0) {
    ioc.run();
    return;
  }
  EventLoopStats local;
  EventLoopStats& s = stats ? *stats : local;
  using clock = std::chrono::steady_clock;
  bool hot = true;  // whether the next idle period spins: the last gap was shorter than `spin`
  while (!ioc.stopped()) {
    if (ioc.poll() > 0) continue;
    if (ioc.stopped()) break;
    const auto idle_from = clock::now();
    if (hot) {
      const auto until = idle_from + spin;
      bool caught = false;
      do {
        cpu_relax();
        if (ioc.poll() > 0) {
          caught = true;
          break;
        }
        if (ioc.stopped()) return;
      } while (clock::now() < until);
      if (caught) {
        ++s.spins_caught;
        continue;
      }
      ++s.spins_missed;
    } else {
      ++s.blocked;
    }
    if (ioc.run_one() == 0) break;  // sleeps until one handler has run
    hot = clock::now() - idle_from < spin;
  }
}

}  // namespace sb::core
