#pragma once
// Pairwise comparison (essay assessment): which of two texts is better, with a justification
// and a confidence on a 1-5 scale. The model is asked for exactly that structure through
// structured output (a strict JSON schema; the gateway makes it Anthropic's forced tool and
// Gemini's responseSchema), and its answer is validated and normalised here, never trusted.

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::workflows {

struct Comparison {
  std::string a, b;
  std::string instructions;  // the rubric; "" = a generic one
  std::vector<std::string> labels = {"Essay A", "Essay B"};
  std::optional<double> temperature;
};

constexpr std::size_t kMinJustification = 50, kMaxJustification = 500;
constexpr double kMinConfidence = 1.0, kMaxConfidence = 5.0;

struct Judgment {
  std::string winner;  // one of the labels, spelled as the label
  std::string justification;
  double confidence = 0;  // 1.0-5.0
  double normalized() const { return (confidence - kMinConfidence) / (kMaxConfidence - kMinConfidence); }
};

// The chat completion request (without model) that asks for a judgment.
boost::json::object comparison_request(const Comparison& c);

// The judgment in a chat.completion answer: its first choice's content, as JSON (a ```json
// fence around it is tolerated), with the winner matched to a label without regard to case
// (or given as "A"/"B"), the confidence a number or a numeric string in 1-5, the justification
// 50-500 characters once trimmed. Errors (invalid_field) say what was wrong; `raw` gets the
// content the model wrote.
core::Result<Judgment> parse_judgment(std::string_view completion, const std::vector<std::string>& labels,
                                      std::string& raw);

}  // namespace sb::workflows
