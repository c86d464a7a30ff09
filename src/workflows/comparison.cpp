#include "workflows/comparison.hpp"

#include <boost/json/parse.hpp>

#include <cctype>
#include <charconv>
#include <cmath>

namespace sb::workflows {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

constexpr std::string_view kRubric =
    "Judge which text is better written: clarity, structure, argument and use of evidence, and correctness of "
    "language.";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Error bad(std::string what) { return Error(ErrorKind::invalid_field, "the model's judgment " + what); }

// Characters (UTF-8 code points), not bytes.
std::size_t chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

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
  json::array required;
  for (const char* k : {"winner", "justification", "confidence"}) required.push_back(json::string(k));
  json::object schema;
  schema["type"] = "object";
  schema["properties"] = std::move(props);
  schema["required"] = std::move(required);
  schema["additionalProperties"] = false;
  json::object js;
  js["name"] = "comparison";
  js["strict"] = true;
  js["schema"] = std::move(schema);
  json::object format;
  format["type"] = "json_schema";
  format["json_schema"] = std::move(js);

  json::object body;
  body["messages"] = std::move(messages);
  body["response_format"] = std::move(format);
  if (c.temperature) body["temperature"] = *c.temperature;
  return body;
}

core::Result<Judgment> parse_judgment(std::string_view completion, const std::vector<std::string>& labels,
                                      std::string& raw) {
  boost::system::error_code ec;
  json::value v = json::parse(completion, ec);
  const json::value* content = nullptr;
  if (!ec && v.is_object()) {
    const auto* choices = v.get_object().if_contains("choices");
    if (choices && choices->is_array() && !choices->get_array().empty() && choices->get_array()[0].is_object()) {
      const auto* msg = choices->get_array()[0].get_object().if_contains("message");
      if (msg && msg->is_object()) content = msg->get_object().if_contains("content");
    }
  }
  if (!content || !content->is_string()) return bad("is missing: the answer has no message content");
  raw = std::string(content->get_string());
  std::string_view text = trim(raw);
  if (text.starts_with("```")) {  // a fenced block
    auto nl = text.find('\n');
    auto end = text.rfind("```");
    if (nl != std::string_view::npos && end > nl) text = trim(text.substr(nl + 1, end - nl - 1));
  }
  json::value j = json::parse(text, ec);
  if (ec || !j.is_object()) return bad("is not a JSON object");
  const json::object& o = j.get_object();

  Judgment out;
  const auto* w = o.if_contains("winner");
  if (!w || !w->is_string()) return bad("has no \"winner\" string");
  const std::string given = lower(trim(w->get_string()));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string letter(1, static_cast<char>('a' + i));
    if (given == lower(labels[i]) || given == letter) out.winner = labels[i];
  }
  if (out.winner.empty()) {
    return bad("names \"" + std::string(w->get_string()) + "\" as the winner, not \"" + labels[0] + "\" or \"" +
               labels[1] + "\"");
  }

  const auto* js = o.if_contains("justification");
  if (!js || !js->is_string()) return bad("has no \"justification\" string");
  out.justification = std::string(trim(js->get_string()));
  const std::size_t n = chars(out.justification);
  if (n < kMinJustification || n > kMaxJustification) {
    return bad("has a justification of " + std::to_string(n) + " characters, not 50 to 500");
  }

  const auto* c = o.if_contains("confidence");
  double conf = NAN;
  if (c && c->is_number()) {
    conf = c->to_number<double>();
  } else if (c && c->is_string()) {
    std::string_view s = trim(c->get_string());
    auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), conf);
    if (e != std::errc() || p != s.data() + s.size()) conf = NAN;
  }
  if (!std::isfinite(conf)) return bad("has no numeric \"confidence\"");
  if (conf < kMinConfidence || conf > kMaxConfidence) {
    return bad("has a confidence of " + std::to_string(conf) + ", outside 1.0 to 5.0");
  }
  out.confidence = conf;
  return out;
}

}  // namespace sb::workflows
