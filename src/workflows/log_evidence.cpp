#include "workflows/log_evidence.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <unordered_set>

namespace sb::workflows {

const char* const kLogCategories[7] = {"compile", "test", "dependency", "infrastructure", "configuration", "timeout",
                                       "unknown"};

namespace {

enum Cat { kCompile, kTest, kDependency, kInfra, kConfig, kTimeout, kNone };

struct Rule {
  std::string_view needle;  // matched in the lowercased, cleaned line
  Cat cat;
  int weight;
};

// Category rules: the strongest, most specific phrases weigh most.
constexpr Rule kRules[] = {
    // compile
    {": error:", kCompile, 3}, {"error[e", kCompile, 3}, {": error ts", kCompile, 3}, {"error ts", kCompile, 2},
    {"undefined reference to", kCompile, 3}, {": undefined:", kCompile, 3}, {"cannot find symbol", kCompile, 3},
    {"compilation failed", kCompile, 2}, {"compilation terminated", kCompile, 2}, {"could not compile", kCompile, 3},
    {"build failed", kCompile, 1}, {"ninja: build stopped", kCompile, 1}, {"error: aborting due to", kCompile, 2},
    {"expected ';'", kCompile, 2}, {"was not declared in this scope", kCompile, 3}, {"no member named", kCompile, 3},
    {"cannot use ", kCompile, 1}, {"type mismatch", kCompile, 2}, {"mismatched types", kCompile, 3},
    // test
    {"[  failed  ]", kTest, 3}, {"--- fail:", kTest, 3}, {"assertionerror", kTest, 2}, {"assert ", kTest, 1},
    {"tests failed", kTest, 2}, {"test failed", kTest, 2}, {"short test summary info", kTest, 2},
    {"failures:", kTest, 1}, {"expect(", kTest, 2}, {"expected:", kTest, 1}, {"received:", kTest, 1},
    {"test result: failed", kTest, 3}, {"... failed", kTest, 2}, {"failing tests", kTest, 2},
    // dependency
    {"could not resolve dependencies", kDependency, 4}, {"could not resolve dependency", kDependency, 4},
    {"no matching distribution found", kDependency, 4}, {"could not find a version that satisfies", kDependency, 4},
    {"eresolve", kDependency, 4}, {"unable to resolve dependency tree", kDependency, 4},
    {"version solving failed", kDependency, 4}, {"failed to select a version", kDependency, 4},
    {"missing go.sum entry", kDependency, 4}, {"no required module provides package", kDependency, 4},
    {"modulenotfounderror", kDependency, 2}, {"unable to locate package", kDependency, 4},
    {"could not find artifact", kDependency, 4}, {"npm err! 404", kDependency, 4}, {"npm err! code e404", kDependency, 4},
    {"conflicting dependencies", kDependency, 3}, {"dependency resolution failed", kDependency, 4},
    {"could not find package", kDependency, 3}, {"failed to download", kDependency, 2}, {"peer dep", kDependency, 2},
    {"requires a peer", kDependency, 2}, {"incompatible versions", kDependency, 3},
    // infrastructure
    {"oomkilled", kInfra, 5}, {"out of memory", kInfra, 4}, {"exit code 137", kInfra, 4}, {"signal: killed", kInfra, 3},
    {"no space left on device", kInfra, 5}, {"connection reset by peer", kInfra, 2}, {"connection refused", kInfra, 2},
    {"temporary failure in name resolution", kInfra, 3}, {"could not resolve host", kInfra, 3},
    {"503 service unavailable", kInfra, 2}, {"502 bad gateway", kInfra, 2}, {"error response from daemon", kInfra, 2},
    {"received a shutdown signal", kInfra, 5}, {"lost communication with the server", kInfra, 5},
    {"cannot allocate memory", kInfra, 4}, {"killed process", kInfra, 3}, {"runner system failure", kInfra, 5},
    {"tls handshake timeout", kInfra, 3}, {"i/o timeout", kInfra, 2},
    // configuration
    {"invalid workflow file", kConfig, 5}, {"invalid configuration", kConfig, 3}, {"yaml:", kConfig, 2},
    {"mapping values are not allowed", kConfig, 4}, {"is not set", kConfig, 2}, {"missing required", kConfig, 2},
    {"unrecognized option", kConfig, 2}, {"unknown option", kConfig, 2}, {"unknown flag", kConfig, 2},
    {"environment variable", kConfig, 1}, {"no such file or directory", kConfig, 1}, {"config file", kConfig, 1},
    {"invalid value", kConfig, 1}, {"undefined variable", kConfig, 2}, {"unexpected value", kConfig, 2},
    {"the workflow is not valid", kConfig, 5}, {"permission denied", kConfig, 1},
    // timeout
    {"timed out", kTimeout, 3}, {"timeout", kTimeout, 2}, {"deadline exceeded", kTimeout, 3},
    {"exceeded the maximum execution time", kTimeout, 5}, {"execution took longer than", kTimeout, 5},
    {"job execution timeout", kTimeout, 5}, {"exceeded timeout", kTimeout, 3}, {"exit code 124", kTimeout, 4},
    {"was cancelled after", kTimeout, 3}, {"maximum time", kTimeout, 2},
};

// Lines that are signals without naming a category.
constexpr std::string_view kSignals[] = {
    "error",    "fatal",  "failed",  "failure", "panic:", "exception", "traceback", "##[error]", "npm err!",
    "killed",   "abort",  "cannot ", "could not", "unable to", "not found", "exit code", "exited with",
    "non-zero", "denied", "segmentation fault", "core dumped", "fail:", "fail ", "timed out", "timeout",
};

bool digit(char c) { return c >= '0' && c <= '9'; }

// A leading timestamp: 2024-01-02T03:04:05(.123…)(Z|+00:00)?, [03:04:05], 03:04:05.123, with the
// space after it.
std::string_view strip_timestamp(std::string_view s) {
  auto skip_space = [](std::string_view t) {
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    return t;
  };
  std::size_t i = 0;
  const bool bracket = !s.empty() && s[0] == '[';
  if (bracket) i = 1;
  auto digits = [&](std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
      if (i + k >= s.size() || !digit(s[i + k])) return false;
    }
    i += n;
    return true;
  };
  const std::size_t start = i;
  if (digits(4) && i < s.size() && s[i] == '-' && (++i, digits(2)) && i < s.size() && s[i] == '-' &&
      (++i, digits(2)) && i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
    ++i;
  } else {
    i = start;
  }
  if (!(digits(2) && i < s.size() && s[i] == ':' && (++i, digits(2)) && i < s.size() && s[i] == ':' && (++i, digits(2)))) {
    return s;
  }
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    while (i < s.size() && digit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == 'Z') ++i;
  if (i + 5 < s.size() && (s[i] == '+' || s[i] == '-') && digit(s[i + 1]) && digit(s[i + 2]) && s[i + 3] == ':') i += 6;
  if (bracket) {
    if (i >= s.size() || s[i] != ']') return s;
    ++i;
  }
  if (i < s.size() && s[i] != ' ' && s[i] != '\t') return s;
  return skip_space(s.substr(i));
}

void to_lower(std::string_view in, std::string& out) {
  out.resize(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : static_cast<char>(c);
  }
}

std::optional<int> number_after(std::string_view s, std::size_t at) {
  while (at < s.size() && (s[at] == ' ' || s[at] == ':' || s[at] == '=')) ++at;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data() + at, s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data() + at) return std::nullopt;
  return v;
}

// "exit code N", "exited with code N", "returned a non-zero code: N", "exit status N".
std::optional<int> exit_code_of(std::string_view lower) {
  for (std::string_view k : {"exit code", "exited with code", "non-zero code", "exit status"}) {
    auto at = lower.find(k);
    if (at != std::string_view::npos) {
      if (auto n = number_after(lower, at + k.size())) return n;
    }
  }
  return std::nullopt;
}

// The name of a failing test a line reports, or "".
std::string failing_test(std::string_view line) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
    return std::string(s);
  };
  if (auto at = line.find("[  FAILED  ] "); at != std::string_view::npos) {
    std::string_view rest = line.substr(at + 13);
    if (rest.find(" test") != std::string_view::npos && rest.find(", listed below") != std::string_view::npos) return "";
    if (!rest.empty() && digit(rest.front())) return "";
    return trim(rest.substr(0, rest.find(" (")));
  }
  if (auto at = line.find("--- FAIL: "); at != std::string_view::npos) {
    std::string_view rest = line.substr(at + 10);
    return trim(rest.substr(0, rest.find(" (")));
  }
  if (line.starts_with("FAILED ") && line.find("::") != std::string_view::npos) {
    std::string_view rest = line.substr(7);
    return trim(rest.substr(0, rest.find(" - ")));
  }
  if (auto at = line.find("\xE2\x97\x8F "); at != std::string_view::npos && line.find(" \xE2\x80\xBA ") != std::string_view::npos) {
    return trim(line.substr(at + 4));  // jest: ● Suite › test
  }
  if (line.starts_with("test ") && line.ends_with(" ... FAILED")) {
    return trim(line.substr(5, line.size() - 5 - 11));  // cargo test
  }
  return "";
}

// A 256-bit set of the character pairs a text holds: a needle can only be in a line whose set
// holds all of its pairs, which rules most of the ~150 phrases out of most lines at once.
struct Pairs {
  std::array<std::uint64_t, 4> bits{};
  static unsigned hash(unsigned char a, unsigned char b) { return (a * 31u + b) & 255u; }
  void add(unsigned char a, unsigned char b) {
    const unsigned h = hash(a, b);
    bits[h >> 6] |= 1ull << (h & 63);
  }
  bool covers(const Pairs& need) const {
    for (int i = 0; i < 4; ++i) {
      if ((bits[i] & need.bits[i]) != need.bits[i]) return false;
    }
    return true;
  }
  static Pairs of(std::string_view s) {
    Pairs p;
    for (std::size_t i = 0; i + 1 < s.size(); ++i) p.add(static_cast<unsigned char>(s[i]), static_cast<unsigned char>(s[i + 1]));
    return p;
  }
};

template <std::size_t N>
std::array<Pairs, N> pairs_of(const Rule (&rules)[N]) {
  std::array<Pairs, N> out;
  for (std::size_t i = 0; i < N; ++i) out[i] = Pairs::of(rules[i].needle);
  return out;
}

template <std::size_t N>
std::array<Pairs, N> pairs_of(const std::string_view (&needles)[N]) {
  std::array<Pairs, N> out;
  for (std::size_t i = 0; i < N; ++i) out[i] = Pairs::of(needles[i]);
  return out;
}

struct Signal {
  std::size_t index;  // 0-based line
  int weight;         // its strongest rule's weight; 0 = a generic signal
};

// The start of the step name in a step marker, or npos.
std::optional<std::string> step_start(std::string_view raw, std::string_view clean) {
  if (clean.starts_with("##[group]")) return std::string(clean.substr(9));
  if (auto at = raw.find("section_start:"); at != std::string_view::npos) {
    std::string_view rest = raw.substr(at + 14);
    auto colon = rest.find(':');
    if (colon != std::string_view::npos) {
      rest = rest.substr(colon + 1);
      std::size_t end = 0;
      while (end < rest.size() && rest[end] != '\r' && rest[end] != '\x1b' && rest[end] != '[' && rest[end] != ' ') ++end;
      return std::string(rest.substr(0, end));
    }
  }
  if (clean.starts_with("Step ") && clean.find(" : ") != std::string_view::npos && clean.size() > 5 && digit(clean[5])) {
    return std::string(clean);  // docker build
  }
  if (clean.starts_with("#") && clean.find(" [") != std::string_view::npos && clean.size() > 1 && digit(clean[1]) &&
      clean.find("] ") != std::string_view::npos) {
    return std::string(clean.substr(clean.find(" [") + 1));  // buildkit: #8 [build 3/6] RUN make
  }
  if (clean.starts_with("> Task :")) return std::string(clean.substr(2));  // gradle
  return std::nullopt;
}

bool step_end(std::string_view raw, std::string_view clean) {
  return clean.starts_with("##[endgroup]") || raw.find("section_end:") != std::string_view::npos;
}

std::string cut(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  s += "…";
  return s;
}

}  // namespace

std::string clean_line(std::string_view line) {
  // A carriage return redraws the line: what follows the last one is what was shown.
  std::string_view s = line;
  while (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  if (auto cr = s.rfind('\r'); cr != std::string_view::npos) s = s.substr(cr + 1);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\x1b' && i + 1 < s.size()) {
      if (s[i + 1] == '[') {  // CSI: parameters, then a final byte 0x40-0x7E
        std::size_t j = i + 2;
        while (j < s.size() && !(s[j] >= 0x40 && s[j] <= 0x7E)) ++j;
        i = j;
        continue;
      }
      if (s[i + 1] == ']') {  // OSC: until BEL or ESC backslash
        std::size_t j = i + 2;
        while (j < s.size() && s[j] != '\x07' && !(s[j] == '\x1b' && j + 1 < s.size() && s[j + 1] == '\\')) ++j;
        i = (j < s.size() && s[j] == '\x1b') ? j + 1 : j;
        continue;
      }
      ++i;  // a two-byte escape
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') continue;
    out.push_back(c);
  }
  std::string_view t = strip_timestamp(out);
  return std::string(t);
}

LogEvidence extract_evidence(std::string_view log, std::string_view log_type, const EvidenceOptions& options) {
  static const auto rule_pairs = pairs_of(kRules);
  static const auto signal_pairs = pairs_of(kSignals);
  LogEvidence out;
  out.bytes = log.size();
  std::vector<std::size_t> starts;  // each line's offset
  std::vector<Signal> signals;
  std::array<double, 6> score{};
  std::unordered_set<std::string> seen;  // signal lines already kept (normalised)
  std::unordered_set<std::string> tests;
  std::string lower;
  std::size_t current_step = static_cast<std::size_t>(-1);
  auto open_step = [&](std::string name, std::size_t line) {
    if (current_step != static_cast<std::size_t>(-1) && out.steps[current_step].last_line == 0) {
      out.steps[current_step].last_line = line - 1;
    }
    out.steps.push_back(LogStep{cut(std::move(name), 200), line, 0, false});
    current_step = out.steps.size() - 1;
  };
  std::optional<std::size_t> first_failed_step;

  if (log.empty()) return out;
  std::size_t pos = 0;
  std::size_t index = 0;
  for (;;) {
    const std::size_t nl = log.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? log.size() : nl;
    const std::string_view raw = log.substr(pos, std::min<std::size_t>(end - pos, 64 * 1024));
    starts.push_back(pos);
    const std::size_t line_no = index + 1;
    const std::string clean = clean_line(raw);

    if (auto name = step_start(raw, clean)) {
      open_step(std::move(*name), line_no);
    } else if (step_end(raw, clean) && current_step != static_cast<std::size_t>(-1)) {
      out.steps[current_step].last_line = line_no;
    } else if (current_step == static_cast<std::size_t>(-1) && !clean.empty()) {
      open_step("log", line_no);
    } else if (current_step != static_cast<std::size_t>(-1) && out.steps[current_step].last_line != 0 && !clean.empty()) {
      // text after a group ended and before the next: a step of its own
      open_step("(between steps)", line_no);
    }

    to_lower(clean, lower);
    const Pairs line_pairs = Pairs::of(lower);
    int weight = -1;
    Cat best = kNone;
    for (std::size_t k = 0; k < std::size(kRules); ++k) {
      const auto& r = kRules[k];
      if (r.weight > weight && line_pairs.covers(rule_pairs[k]) && lower.find(r.needle) != std::string::npos) {
        weight = r.weight;
        best = r.cat;
      }
    }
    if (weight < 0) {
      for (std::size_t k = 0; k < std::size(kSignals); ++k) {
        if (line_pairs.covers(signal_pairs[k]) && lower.find(kSignals[k]) != std::string::npos) {
          weight = 0;
          break;
        }
      }
    }
    if (clean.starts_with("##[error]")) weight = std::max(weight, 0);
    // A failing test's name (gtest, go test, pytest, jest, cargo test) makes the line a test signal.
    std::string test_name;
    if (clean.find("FAIL") != std::string::npos || clean.find("\xE2\x97\x8F") != std::string::npos) {
      test_name = failing_test(clean);
      if (!test_name.empty() && weight < 2) {
        weight = 2;
        best = kTest;
      }
    }
    if (weight >= 0) {
      // Lines only warning about something are not signals.
      const bool warning = lower.find("warning") != std::string::npos && lower.find("error") == std::string::npos &&
                           best != kTimeout && best != kInfra;
      const bool noise = lower.find("0 failed") != std::string::npos || lower.find("0 errors") != std::string::npos ||
                         lower.find("error_reporting") != std::string::npos || lower.find("no errors") != std::string::npos;
      if (!warning && !noise) {
        ++out.signals;
        std::string key = lower.substr(0, 300);
        for (auto& c : key) {
          if (digit(c)) c = '#';
        }
        if (seen.insert(std::move(key)).second) {
          signals.push_back(Signal{index, std::max(weight, 0)});
          if (best != kNone) score[best] += weight;
        } else {
          ++out.duplicates;
        }
        if (auto code = exit_code_of(lower); code && *code != 0) {
          out.exit_code = *code;
          if (*code == 137) score[kInfra] += 4;
          if (*code == 124) score[kTimeout] += 4;
        }
        if (current_step != static_cast<std::size_t>(-1)) {
          const bool hard = weight > 0 || clean.starts_with("##[error]") || lower.find("error") != std::string::npos ||
                            lower.find("fatal") != std::string::npos;
          if (hard) {
            // After the last step (a runner's closing "job failed" lines): the failure is the
            // step before's.
            std::size_t at = current_step;
            while (at > 0 && out.steps[at].name == "(between steps)") --at;
            out.steps[at].failed = true;
            if (!first_failed_step) first_failed_step = at;
          }
        }
        if (out.failing_tests.size() < 50 && !test_name.empty() && tests.insert(test_name).second) {
          out.failing_tests.push_back(cut(std::move(test_name), 200));
        }
      }
    }
    ++index;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  out.lines = index;
  if (current_step != static_cast<std::size_t>(-1) && out.steps[current_step].last_line == 0) {
    out.steps[current_step].last_line = out.lines;
  }
  if (!out.failing_tests.empty()) score[kTest] += 3;

  // The category: the best score; the log's type breaks a tie.
  double total = 0, top = 0;
  int cat = kNone;
  const int prefer = log_type == "test" ? kTest : log_type == "build" ? kCompile : log_type == "deploy" ? kInfra : kNone;
  for (int c = 0; c < 6; ++c) {
    total += score[c];
    if (score[c] > top || (score[c] == top && top > 0 && c == prefer)) {
      top = score[c];
      cat = c;
    }
  }
  out.category = kLogCategories[cat];
  out.confidence = total > 0 ? top / total : 0;

  // The failing step: the last step that failed (the first failure often cascades into the
  // last), else the first.
  std::optional<std::size_t> failed;
  for (std::size_t i = 0; i < out.steps.size(); ++i) {
    if (out.steps[i].failed) failed = i;
  }
  if (failed && out.steps[*failed].name == "Post job cleanup.") failed = first_failed_step;
  if (failed) out.failing_step = out.steps[*failed].name;

  // Evidence: the strongest signals first (later ones first among equals: the end of a log
  // says most), each with its window, until the budget; then in line order.
  std::vector<Signal> order = signals;
  std::stable_sort(order.begin(), order.end(), [](const Signal& a, const Signal& b) {
    if (a.weight != b.weight) return a.weight > b.weight;
    return a.index > b.index;
  });
  if (!order.empty()) {
    const std::size_t i = order.front().index;
    const std::size_t b = starts[i];
    const std::size_t e = i + 1 < out.lines ? starts[i + 1] : log.size();
    out.root_line = i + 1;
    out.root_text = cut(clean_line(log.substr(b, std::min<std::size_t>(e - b, 64 * 1024))), options.max_line_chars);
  }
  std::vector<char> keep(out.lines, 0);  // 0 no, 1 context, 2 signal
  std::size_t kept = 0;
  for (const auto& s : order) {
    const std::size_t from = s.index >= options.before ? s.index - options.before : 0;
    const std::size_t to = std::min(out.lines - 1, s.index + options.after);
    std::size_t extra = 0;
    for (std::size_t i = from; i <= to; ++i) extra += keep[i] == 0;
    if (kept + extra > options.max_lines) {
      if (kept + 1 > options.max_lines) break;
      if (keep[s.index] == 0) ++kept;
      keep[s.index] = 2;
      continue;
    }
    for (std::size_t i = from; i <= to; ++i) {
      if (keep[i] == 0) ++kept;
      keep[i] = std::max<char>(keep[i], i == s.index ? 2 : 1);
    }
  }
  for (std::size_t i = 0; i < out.lines; ++i) {
    if (!keep[i]) continue;
    const std::size_t b = starts[i];
    const std::size_t e = i + 1 < out.lines ? starts[i + 1] : log.size();
    std::string text = clean_line(log.substr(b, std::min<std::size_t>(e - b, 64 * 1024)));
    if (text.empty() && keep[i] == 1) continue;
    out.evidence.push_back(EvidenceLine{i + 1, cut(std::move(text), options.max_line_chars), keep[i] == 2});
  }
  return out;
}

}  // namespace sb::workflows
