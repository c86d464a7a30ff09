#include "workflows/structured.hpp"


#include <boost/json/parse.hpp>

#include <cctype>
#include <charconv>
#include <cmath>

#include "core/text.hpp"

namespace sb::workflows {

namespace json = boost::json;

json::object strict_object_format(std::string_view name, json::object properties, const std::vector<std::string>& required) {
  json::array req;
  for (const auto& r : required) req.push_back(json::string(r));
  json::object schema;
  schema["type"] = "object";
  schema["properties"] = std::move(properties);
  schema["required"] = std::move(req);
  schema["additionalProperties"] = false;
  json::object js;
  js["name"] = name;
  js["strict"] = true;
  js["schema"] = std::move(schema);
  json::object format;
  format["type"] = "json_schema";
  format["json_schema"] = std::move(js);
  return format;
}

core::Result<json::object> structured_content(std::string_view completion, std::string_view what, std::string* raw) {
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
  if (!content || !content->is_string()) {
    return core::Error(core::ErrorKind::invalid_field, std::string(what) + " is missing: the answer has no message content");
  }
  if (raw) *raw = std::string(content->get_string());
  std::string_view text = core::trim_space(content->get_string());
  if (text.starts_with("```")) {  // a fenced block
    auto nl = text.find('\n');
    auto end = text.rfind("```");
    if (nl != std::string_view::npos && end > nl) text = core::trim_space(text.substr(nl + 1, end - nl - 1));
  }
  json::value j = json::parse(text, ec);
  if (ec || !j.is_object()) return core::Error(core::ErrorKind::invalid_field, std::string(what) + " is not a JSON object");
  return std::move(j.as_object());
}

double model_number(const json::value* v) {
  double x = NAN;
  if (v && v->is_number()) {
    x = v->to_number<double>();
  } else if (v && v->is_string()) {
    std::string_view s = core::trim_space(v->get_string());
    auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (e != std::errc() || p != s.data() + s.size()) x = NAN;
  }
  return x;
}

}  // namespace sb::workflows
