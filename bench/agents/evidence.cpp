// bench/agents: the log analyzer's evidence extraction throughput. Builds a CI log of SIZE_MB
// (default 50) from realistic lines — timestamped GitHub Actions output with ANSI colours, build
// and test progress, warnings, a few hundred scattered errors and stack frames repeated — then
// times extract_evidence on it RUNS times (default 5). Prints one JSON line per run.
//
// Usage: bench_evidence [SIZE_MB] [RUNS]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "workflows/log_evidence.hpp"

int main(int argc, char** argv) {
  const double mb = argc > 1 ? std::atof(argv[1]) : 50;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::size_t target = static_cast<std::size_t>(mb * 1024 * 1024);
  std::mt19937_64 rng(42);
  const char* lines[] = {
      "\x1b[32m[ %d%%]\x1b[0m Building CXX object src/CMakeFiles/engine.dir/module_%d.cpp.o",
      "  PASS  src/components/widget_%d.test.tsx (%d ms)",
      "Downloading https://registry.npmjs.org/package-%d/-/package-%d.tgz",
      "test module_%d::case_%d ... ok",
      "warning: unused variable 'tmp_%d' [-Wunused-variable] (line %d)",
      "    at Object.<anonymous> (src/lib/file_%d.js:%d:17)",
      "INFO  [main] c.a.s.Service - handled request %d in %d ms",
  };
  std::string log;
  log.reserve(target + 4096);
  int step = 0;
  char buf[512];
  while (log.size() < target) {
    if (rng() % 20000 == 0) {
      std::snprintf(buf, sizeof buf, "2026-11-20T10:15:03.1234567Z ##[group]Step %d\n", ++step);
      log += buf;
    }
    const auto pick = rng() % 1000;
    const int a = static_cast<int>(rng() % 100000), b = static_cast<int>(rng() % 1000);
    if (pick == 0) {
      std::snprintf(buf, sizeof buf, "2026-11-20T10:15:03.1234567Z src/core/file_%d.cpp:%d:5: error: 'x_%d' was not declared in this scope\n", a % 300, b, a % 50);
    } else if (pick == 1) {
      std::snprintf(buf, sizeof buf, "2026-11-20T10:15:03.1234567Z [  FAILED  ] Suite%d.Case%d (%d ms)\n", a % 40, b % 30, b);
    } else {
      std::snprintf(buf, sizeof buf, "2026-11-20T10:15:03.1234567Z ");
      log += buf;
      std::snprintf(buf, sizeof buf, lines[pick % 7], a, b);
      log += buf;
      log += '\n';
      continue;
    }
    log += buf;
  }
  log += "2026-11-20T10:15:04.0000000Z ##[error]Process completed with exit code 1.\n";
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    auto e = sb::workflows::extract_evidence(log, "build");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::size_t kept = 0;
    for (const auto& l : e.evidence) kept += l.text.size() + 8;
    std::printf("{\"mb\":%.1f,\"lines\":%zu,\"seconds\":%.3f,\"mb_per_s\":%.1f,\"signals\":%zu,\"duplicates\":%zu,"
                "\"evidence_lines\":%zu,\"evidence_bytes\":%zu,\"category\":\"%s\",\"steps\":%zu}\n",
                static_cast<double>(log.size()) / (1024 * 1024), e.lines, s,
                static_cast<double>(log.size()) / (1024 * 1024) / s, e.signals, e.duplicates, e.evidence.size(), kept,
                e.category.c_str(), e.steps.size());
  }
  return 0;
}
