#include "workflows/comparison.hpp"

#include <boost/json/parse.hpp>

#include <cctype>
#include <cmath>

#include "core/text.hpp"
#include "workflows/structured.hpp"

namespace sb::workflows {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

constexpr std::string_view kRubric =
    "Judge which text is better written: clarity, structure, argument and use of evidence, and correctness of "
    "language.";

Error bad(std::string what) { return Error(ErrorKind::invalid_field, "the model's judgment " + what); }

}  // namespace

json::object comparison_request(const Comparison& c) {
  const std::string& la = c.labels[0];
  const std::string& lb = c.labels[1];
  std::string system =
      "You compare two texts and decide which is better. " +
      std::string(c.instructions.empty() ? kRubric : std::string_view(c.instructions)) +
      "\nAnswer with a JSON object: \"winner\" is exactly \"" + la + "\" or \"" + lb +
      "\"; \"justification\" explains the decision in 50 to 500 characters; \"confidence\" is a number from 1.0 "
      "(a guess) to 5.0 (certain).";
  std::string user = la + ":\n" + c.a + "\n\n" + lb + ":\n" + c.b;
  json::array messages;
  json::object sys;
  sys["role"] = "system";
  sys["content"] = system;
  messages.push_back(std::move(sys));
  json::object usr;
  usr["role"] = "user";
  usr["content"] = user;
  messages.push_back(std::move(usr));

  json::object winner;
  winner["type"] = "string";
  json::array labels;
  labels.push_back(json::string(la));
  labels.push_back(json::string(lb));
  winner["enum"] = std::move(labels);
  json::object justification;
  justification["type"] = "string";
  justification["description"] = "50 to 500 characters";
  json::object confidence;
  confidence["type"] = "number";
  confidence["description"] = "from 1.0 to 5.0";
  json::object props;
  props["winner"] = std::move(winner);
  props["justification"] = std::move(justification);
  props["confidence"] = std::move(confidence);
  json::object format = strict_object_format("comparison", std::move(props), {"winner", "justification", "confidence"});

  json::object body;
  body["messages"] = std::move(messages);
  body["response_format"] = std::move(format);
  if (c.temperature) body["temperature"] = *c.temperature;
  return body;
}

core::Result<Judgment> parse_judgment(std::string_view completion, const std::vector<std::string>& labels,
                                      std::string& raw) {
  auto parsed = structured_content(completion, "the model's judgment", &raw);
  if (!parsed) return std::move(parsed).error();
  const json::object& o = *parsed;

  Judgment out;
  const auto* w = o.if_contains("winner");
  if (!w || !w->is_string()) return bad("has no \"winner\" string");
  const std::string given = core::ascii_lower(core::trim_space(w->get_string()));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string letter(1, static_cast<char>('a' + i));
    if (given == core::ascii_lower(labels[i]) || given == letter) out.winner = labels[i];
  }
  if (out.winner.empty()) {
    return bad("names \"" + std::string(w->get_string()) + "\" as the winner, not \"" + labels[0] + "\" or \"" +
               labels[1] + "\"");
  }

  const auto* js = o.if_contains("justification");
  if (!js || !js->is_string()) return bad("has no \"justification\" string");
  out.justification = std::string(core::trim_space(js->get_string()));
  const std::size_t n = core::utf8_chars(out.justification);
  if (n < kMinJustification || n > kMaxJustification) {
    return bad("has a justification of " + std::to_string(n) + " characters, not 50 to 500");
  }

  const auto* c = o.if_contains("confidence");
  const double conf = model_number(c);
  if (!std::isfinite(conf)) return bad("has no numeric \"confidence\"");
  if (conf < kMinConfidence || conf > kMaxConfidence) {
    return bad("has a confidence of " + std::to_string(conf) + ", outside 1.0 to 5.0");
  }
  out.confidence = conf;
  return out;
}

}  // namespace sb::workflows
