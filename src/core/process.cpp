#include "core/process.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/log.hpp"
#include "core/version.hpp"

namespace sb::core {

std::uint64_t resident_memory_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t peak_resident_memory_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

void register_process_metrics(metrics::Registry& registry) {
  auto& rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
                  .with({});
  auto& start = registry.gauge("process_start_time_seconds",
                               "Start time of the process since the Unix epoch in seconds.")
                    .with({});
  start.set(std::chrono::duration<double>(
                std::chrono::system_clock::now().time_since_epoch())
                .count());
  registry.gauge("switchboard_build_info", "Build information; the value is always 1.",
                 {"version", "commit"})
      .with({std::string(version()), std::string(git_commit())})
      .set(1);
  auto& dropped = registry.gauge("switchboard_log_dropped_lines",
                                 "Log lines dropped because the log queue was full.")
                      .with({});
  registry.on_collect([&rss, &dropped] {
    rss.set(static_cast<double>(resident_memory_bytes()));
    dropped.set(static_cast<double>(log::dropped()));
  });
}

}  // namespace sb::core
