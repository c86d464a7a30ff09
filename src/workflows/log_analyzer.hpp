#pragma once
// The log analyzer's answer: from the rules alone (the evidence's category, failing step and
// strongest signal, with a fix hint per category), or from a model given only the evidence and
// the runbook passages found for it, through structured output and validated like comparisons.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "workflows/log_evidence.hpp"

namespace sb::workflows {

struct LogAnalysis {
  std::string summary, category, failing_step, root_cause, suggested_fix;
  double confidence = 0;       // 0-1
  std::vector<int> cited;      // reference numbers (1-based) the model cited
};

// What the rules say.
LogAnalysis analyze_by_rules(const LogEvidence& e);

// The evidence as the model reads it: "L<n>: text" per line, steps and failing tests first.
std::string evidence_text(const LogEvidence& e);

// The chat completion request (without model): the evidence, the runbook passages (numbered from
// 1), and a strict JSON schema {summary, category, failing_step, root_cause, suggested_fix,
// confidence, references}.
boost::json::object analysis_request(const LogEvidence& e, std::string_view log_type,
                                     const std::vector<std::string>& passages);

// The model's analysis in a chat.completion answer, validated: category one of the seven (any
// case), confidence 0-1 (a numeric string too), texts non-empty and at most 4000 characters,
// references within 1..passages. Errors say what was wrong.
core::Result<LogAnalysis> parse_analysis(std::string_view completion, std::size_t passages);

}  // namespace sb::workflows
