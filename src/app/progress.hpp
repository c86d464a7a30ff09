#pragma once
// Progress of a long command on stderr: a bar redrawn in place when stderr is a terminal, else
// one line per step (each stage's start and end, and every tenth of the way).

#include <chrono>
#include <cstddef>
#include <string>

namespace sb::app {

class Progress {
 public:
  Progress();
  ~Progress();  // ends a bar still drawn
  // `done` of `total` in `stage` ("ingest", "search keyword"); cheap to call for every item.
  void update(const std::string& stage, std::size_t done, std::size_t total);
  void finish();

 private:
  bool tty_;
  std::string stage_;
  std::size_t last_tenth_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace sb::app
