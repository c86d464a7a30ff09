#include "app/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace sb::app {

Progress::Progress() : tty_(::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { finish(); }

void Progress::update(const std::string& stage, std::size_t done, std::size_t total) {
  const auto now = std::chrono::steady_clock::now();
  const bool new_stage = stage != stage_;
  if (new_stage) {
    finish();
    stage_ = stage;
    last_tenth_ = 0;
  }
  const std::size_t tenth = total ? done * 10 / total : 10;
  if (tty_) {
    if (!new_stage && done != total && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const int width = 30;
    const int filled = total ? static_cast<int>(done * width / total) : width;
    std::fprintf(stderr, "\r%-16s [%.*s%*s] %zu/%zu", stage.c_str(), filled,
                 "##############################", width - filled, "", done, total);
    drawn_ = true;
    if (done == total) finish();
  } else if (new_stage || tenth > last_tenth_ || done == total) {
    last_tenth_ = tenth;
    std::fprintf(stderr, "%s: %zu/%zu\n", stage.c_str(), done, total);
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace sb::app
