#pragma once
// Document extraction in sandboxed worker processes. Parsers of hostile files (poppler, gumbo,
// pugixml, libarchive) run in children of the server — the same binary started as
// `switchboard extract-worker` — with an address-space limit, a CPU-time limit, no file
// descriptors beyond their two pipes, no network and no exec (seccomp), and a wall-clock
// deadline kept by the server. A crash, a hang or a memory blow-up in a parser ends that child
// only: the document fails with the reason (timeout, memory, crashed) and the server goes on.

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "knowledge/extract.hpp"

namespace sb::knowledge {

// Error::where of the unavailable error an extraction ends with when the sandbox shuts down.
inline constexpr std::string_view kShutdownWhere = "extract:shutdown";

struct SandboxOptions {
  std::string executable = "/proc/self/exe";  // the binary started with "extract-worker"
  int workers = 2;                             // processes (documents parsed at once)
  int timeout_ms = 60000;                      // wall clock per document
  int memory_mb = 1024;                        // RLIMIT_AS of a worker
  ExtractLimits limits;
};

class ExtractSandbox {
 public:
  explicit ExtractSandbox(SandboxOptions options);
  ~ExtractSandbox();  // kills the workers
  ExtractSandbox(const ExtractSandbox&) = delete;
  ExtractSandbox& operator=(const ExtractSandbox&) = delete;

  // Blocking (run it on the blocking pool): waits for a free worker, has it extract, and
  // answers what knowledge::extract would, or unprocessable (422) naming the reason when the
  // worker ran out of time or memory or died; unavailable (503) once shut down.
  core::Result<Extracted> extract(std::string_view bytes, std::string_view content_type,
                                  std::string_view filename);

  // Kills every worker now (SIGKILL): extractions under way end as unavailable, later ones
  // are refused. For shutdown past its grace period.
  void shutdown();

 private:
  struct Worker {
    pid_t pid = -1;
    int to = -1;    // the worker's stdin
    int from = -1;  // the worker's stdout
  };
  core::Result<Worker> spawn();
  // Kills and reaps a worker (its exit status and peak RSS to the pointers given) and counts it out.
  void end(Worker w, int* status, long* peak_kib);
  // Returns a worker that answered to the idle ones (or ends it once shut down).
  void give_back(Worker w);

  SandboxOptions options_;
  std::mutex mu_;
  std::condition_variable free_;
  std::vector<Worker> idle_;     // guarded by mu_
  std::vector<pid_t> running_;   // guarded by mu_: workers extracting now
  int live_ = 0;                 // guarded by mu_: idle + running
  bool stopped_ = false;         // guarded by mu_
};

// The worker's side: serves extraction requests on stdin/stdout until end of input. Sets up
// its own limits first. Returns the process exit code.
int run_extract_worker(int memory_mb);

}  // namespace sb::knowledge
