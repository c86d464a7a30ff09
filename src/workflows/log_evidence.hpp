#pragma once
// The log analyzer's first pass, in C++ and without a model: a CI log (GitHub Actions, GitLab,
// Docker, plain) cleaned (ANSI codes, timestamps), split into steps, searched for error signals
// (error and fatal lines, stack traces, failing test names, exit codes), deduplicated, and
// reduced to a bounded window of evidence around each signal, with line numbers. The rules then
// name a category and the failing step; a model (when one is asked) gets only this evidence.
// One pass over the bytes; a 50 MB log takes well under a second (bench/agents).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::workflows {

// compile | test | dependency | infrastructure | configuration | timeout | unknown
extern const char* const kLogCategories[7];

struct EvidenceOptions {
  std::size_t before = 2;          // lines of context kept before a signal
  std::size_t after = 3;           // ... and after
  std::size_t max_lines = 200;     // evidence lines in all
  std::size_t max_line_chars = 400;  // a longer line is cut
};

struct LogStep {
  std::string name;
  std::size_t first_line = 0, last_line = 0;  // 1-based
  bool failed = false;                        // it holds an error signal or a failing exit
};

struct EvidenceLine {
  std::size_t line = 0;  // 1-based, in the original log
  std::string text;      // cleaned
  bool signal = false;   // the line that matched (not context)
};

struct LogEvidence {
  std::vector<LogStep> steps;
  std::vector<EvidenceLine> evidence;
  std::string category = "unknown";
  double confidence = 0;  // the category's share of the rule scores (0 when nothing matched)
  std::string failing_step;
  std::vector<std::string> failing_tests;
  std::optional<int> exit_code;
  // The strongest signal (the most specific rule; the latest among equals): the likely cause.
  std::size_t root_line = 0;  // 0 = no signal
  std::string root_text;
  std::size_t lines = 0, bytes = 0, signals = 0, duplicates = 0;
};

// `log_type` (build | test | deploy | "") breaks ties between categories.
LogEvidence extract_evidence(std::string_view log, std::string_view log_type = "", const EvidenceOptions& options = {});

// A line without ANSI escape sequences, carriage-return overwrites and a leading timestamp.
std::string clean_line(std::string_view line);

}  // namespace sb::workflows
