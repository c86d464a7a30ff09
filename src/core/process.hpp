#pragma once
// Process facts for /metrics: resident memory, start time, build info.

#include <cstdint>

#include "core/metrics.hpp"

namespace sb::core {

// Current resident set size in bytes (from /proc/self/statm); 0 if unknown.
std::uint64_t resident_memory_bytes();
// Peak resident set size in bytes (VmHWM); 0 if unknown.
std::uint64_t peak_resident_memory_bytes();

// Registers process_resident_memory_bytes, process_start_time_seconds, switchboard_build_info,
// switchboard_log_dropped_lines.
void register_process_metrics(metrics::Registry& registry);

}  // namespace sb::core
