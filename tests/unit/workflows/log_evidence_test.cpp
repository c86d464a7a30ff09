#include "workflows/log_evidence.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace sb::workflows {
namespace {

namespace json = boost::json;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(CleanLine, DropsAnsiCodesTimestampsAndRedrawnText) {
  EXPECT_EQ(clean_line("2026-11-20T10:15:03.1234567Z \x1b[31merror:\x1b[0m boom"), "error: boom");
  EXPECT_EQ(clean_line("[10:15:03] step"), "step");
  EXPECT_EQ(clean_line("10:15:03.120 tick"), "tick");
  EXPECT_EQ(clean_line("downloading 10%\rdownloading 100%\r"), "downloading 100%");
  EXPECT_EQ(clean_line("\x1b]0;title\x07text\x1b[K"), "text");
  EXPECT_EQ(clean_line("2026-11-20 keeps a date that is not a timestamp"), "2026-11-20 keeps a date that is not a timestamp");
  EXPECT_EQ(clean_line("12:30 is not a timestamp either"), "12:30 is not a timestamp either");
  EXPECT_EQ(clean_line(""), "");
  EXPECT_EQ(clean_line("\x1b["), "");  // a cut escape
}

// The corpus (tests/golden/ci_logs): real-looking logs of 24 failures with the expected category,
// failing step, evidence lines and failing tests. The rules alone must name the category of at
// least 90 % of them.
TEST(LogEvidence, TheRulesNameTheCategoryAndFailingStepOfTheCorpus) {
  const std::string dir = std::string(SB_SOURCE_DIR) + "/tests/golden/ci_logs/";
  const auto cases = json::parse(read(dir + "expected.json")).as_array();
  ASSERT_GE(cases.size(), 20u);
  int category_ok = 0, step_ok = 0;
  for (const auto& c : cases) {
    const std::string file(c.at("file").as_string());
    const std::string text = read(dir + file);
    ASSERT_FALSE(text.empty()) << file;
    auto e = extract_evidence(text, std::string(c.at("log_type").as_string()));
    const bool cat = e.category == c.at("category").as_string();
    const bool step = e.failing_step == c.at("failing_step").as_string();
    category_ok += cat;
    step_ok += step;
    EXPECT_TRUE(cat) << file << ": category " << e.category << ", expected " << c.at("category").as_string();
    EXPECT_TRUE(step) << file << ": failing step '" << e.failing_step << "', expected " << c.at("failing_step").as_string();
    std::string all;
    for (const auto& l : e.evidence) all += std::to_string(l.line) + ": " + l.text + "\n";
    for (const auto& want : c.at("evidence").as_array()) {
      EXPECT_NE(all.find(std::string(want.as_string())), std::string::npos) << file << ": no '" << want.as_string() << "' in\n" << all;
    }
    for (const auto& t : c.at("failing_tests").as_array()) {
      EXPECT_NE(std::find(e.failing_tests.begin(), e.failing_tests.end(), std::string(t.as_string())), e.failing_tests.end())
          << file << ": failing test " << t.as_string();
    }
    EXPECT_LE(e.evidence.size(), 200u);
    for (const auto& l : e.evidence) {
      EXPECT_GE(l.line, 1u);
      EXPECT_LE(l.line, e.lines);
    }
  }
  const double accuracy = static_cast<double>(category_ok) / static_cast<double>(cases.size());
  EXPECT_GE(accuracy, 0.9) << category_ok << " of " << cases.size();
  EXPECT_GE(static_cast<double>(step_ok) / static_cast<double>(cases.size()), 0.9) << step_ok << " of " << cases.size();
}

TEST(LogEvidence, AHugeRepetitiveLogBecomesAFewLinesOfEvidenceWithLineNumbers) {
  std::string log;
  for (int i = 0; i < 200000; ++i) {
    log += "2026-11-20T10:15:03.1234567Z [" + std::to_string(i) + "/200000] Compiling module_" + std::to_string(i) + ".o\n";
    if (i % 1000 == 999) log += "warning: unused variable 'x' [-Wunused-variable]\n";
    if (i % 50000 == 7) log += "src/retry.c:12:5: error: implicit declaration of function 'sleepms'\n";  // repeated
  }
  log += "make: *** [Makefile:40: all] Error 2\n##[error]Process completed with exit code 2.\n";
  auto e = extract_evidence(log, "build");
  EXPECT_EQ(e.category, "compile");
  EXPECT_EQ(e.exit_code, 2);
  EXPECT_GT(e.duplicates, 0u);  // the same error four times: kept once
  EXPECT_LE(e.evidence.size(), 200u);
  std::size_t errors = 0;
  for (const auto& l : e.evidence) errors += l.text.find("implicit declaration") != std::string::npos;
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(e.evidence.back().text, "##[error]Process completed with exit code 2.");
  EXPECT_EQ(e.evidence.back().line, e.lines - 1);  // (the log ends with a newline: one empty last line)
  std::size_t bytes = 0;
  for (const auto& l : e.evidence) bytes += l.text.size();
  EXPECT_LT(bytes, 16u * 1024);
}

TEST(LogEvidence, HostileInputIsBounded) {
  EXPECT_EQ(extract_evidence("").lines, 0u);
  std::string no_newlines(5'000'000, 'e');
  no_newlines += " error";
  auto e = extract_evidence(no_newlines);
  EXPECT_EQ(e.lines, 1u);
  for (const auto& l : e.evidence) EXPECT_LE(l.text.size(), 404u);  // cut (+ the ellipsis)
  std::string nuls("\0\0\x1b[\x1b]", 6);
  (void)extract_evidence(nuls);
  std::string many_errors;
  for (int i = 0; i < 100000; ++i) many_errors += "error " + std::string(1, static_cast<char>('a' + i % 26)) + std::to_string(i % 7) + "\n";
  auto m = extract_evidence(many_errors);
  EXPECT_LE(m.evidence.size(), 200u);
  auto steps = extract_evidence("##[group]a\nx\n##[endgroup]\n##[group]b\nerror: y\n##[endgroup]\n");
  ASSERT_EQ(steps.steps.size(), 2u);
  EXPECT_EQ(steps.failing_step, "b");
  EXPECT_FALSE(steps.steps[0].failed);
  EXPECT_TRUE(steps.steps[1].failed);
}

}  // namespace
}  // namespace sb::workflows
