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

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds spin) {
  if (spin.count() <= 0) {
    ioc.run();
    return;
  }
  using clock = std::chrono::steady_clock;
  auto idle_until = clock::now() + spin;
  while (!ioc.stopped()) {
    if (ioc.poll() > 0) {
      idle_until = clock::now() + spin;
      continue;
    }
    if (ioc.stopped()) break;
    if (clock::now() < idle_until) {
      cpu_relax();
      continue;
    }
    // Nothing for a whole window: sleep until one handler runs, then spin again.
    if (ioc.run_one() == 0) break;
    idle_until = clock::now() + spin;
  }
}

}  // namespace sb::core
